"""The contract every test here holds adapter and fake to: AcmeDesk's API description, tests/openapi.yaml."""

from __future__ import annotations

from pathlib import Path

from humansupport.testing import ContractTransport

#: checks each request the adapter sends and each answer the fake gives; `CONTRACT.wrap(transport)` per test
CONTRACT = ContractTransport(Path(__file__).with_name("openapi.yaml"))
