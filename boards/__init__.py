"""Board definitions, one TOML per board, shipped as package data."""
