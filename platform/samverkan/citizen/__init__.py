"""The citizen's pages: a member's home, the form steps, check answers, receipt, status."""
