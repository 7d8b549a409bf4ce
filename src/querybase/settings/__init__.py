"""Settings: the registry (`registry.py`) and every declaration (`definitions.py`)."""
