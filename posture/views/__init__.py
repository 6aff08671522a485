"""Views of the posture app: the fleet, a cluster's posture, one check, the score formula."""
