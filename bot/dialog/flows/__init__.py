"""Conversation flows. Each module registers its commands, button prefixes and text states on
the Dialog router (bot/dialog/router.py), so flows grow side by side without touching each other."""
