"""``python -m bot sandbox``: the real stoplive, driven from a terminal against stand-ins of Slack
and MetaStudio that run on loopback in the same process (no Slack app, no cloud account)."""
