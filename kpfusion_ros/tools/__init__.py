"""Command-line tools of kpfusion_ros (console scripts in setup.py)."""
