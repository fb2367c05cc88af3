"""stoplive: stop a Huawei Cloud MetaStudio livestream from Slack (``python -m bot``)."""
