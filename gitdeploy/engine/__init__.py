"""Engines: where replicas run. The core talks to them only through `Engine`."""
