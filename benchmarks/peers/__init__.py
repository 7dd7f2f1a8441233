"""The designs actorserve is measured against."""
