"""The only code that talks HTTP: client factory, retries, rate limiting, paging."""
