"""stad-agent evaluate: honest accuracy on labelled data."""
