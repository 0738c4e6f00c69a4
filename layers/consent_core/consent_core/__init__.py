"""The consent core: standard library only, so that it fits a viewer function's package of a few kilobytes."""
