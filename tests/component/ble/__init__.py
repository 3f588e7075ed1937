"""Simulated BLE devices driven through bleak's public API with the Bumble backend."""
