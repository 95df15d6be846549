"""Local EVM chain tooling: the anvil node, contract artifacts and deployment helpers."""
