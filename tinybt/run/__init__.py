"""The run folder: config.json, data.json, checkpoints, the writer lock."""
