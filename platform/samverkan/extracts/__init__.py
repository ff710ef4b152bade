"""Register extracts (registerutdrag, GDPR article 15): what is stored about the person
in one case, as JSON and as a printable page."""
