"""Views of the history app: trends, comparing two collections, fleet drift."""
