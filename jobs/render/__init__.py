"""Message rendering, one module per concern: markup (text), staff_markup (staff formatting),
callbacks (button data), messages (what subscribers receive), cards (what staff see)."""
