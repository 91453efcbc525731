"""The top layer: what spans several apps (the dashboard, the demo loader and its commands).

It sits above ``optimizer`` in the import-linter layers contract (pyproject.toml), while the rest of
``loyalty_site`` (settings and shared helpers) is the bottom layer: the design card fixes the top
level, so the top layer lives here rather than in a new top-level package.
"""
