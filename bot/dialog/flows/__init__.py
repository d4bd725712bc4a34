"""Conversation flows. Each module builds its own `FlowRouter` (bot/dialog/routes.py) of commands,
button prefixes and text states from a `FlowContext`, and the Dialog (bot/dialog/router.py)
includes them all in one place. A flow imports only the dialog layer (context, groups, filing,
menus, screens) and the layers below it, never another flow, the Dialog or an adapter
(tests/unit/test_dialog_layers.py), so flows grow side by side without touching each other."""
