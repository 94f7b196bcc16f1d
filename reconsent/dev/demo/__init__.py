"""``reconsent demo``: the whole re-consent loop on a sample base, end to end."""
