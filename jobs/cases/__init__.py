"""Cases (citizens' feedback handled by units): working time, canned answers, deadlines."""
