"""humansupport-rt: Request Tracker (RT 5, REST2) as a humansupport helpdesk."""

__version__ = "0.2.0"
#: the humansupport plugin contract this plugin implements (checked when humansupport loads it)
__humansupport_contract__ = 1
