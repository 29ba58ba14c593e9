"""The `microlift` command's handlers, one module per side; `microlift.cli` imports the one a command needs."""
