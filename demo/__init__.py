"""The illustrative demo inventory and projects (fictional; marked illustrative when loaded)."""
