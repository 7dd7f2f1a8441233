"""Experiment actors: A/B tests, shadow deployments, ensembles, canary rollouts."""

from __future__ import annotations

from actorserve.actors.experiments.ab import ABTestActor
from actorserve.actors.experiments.api import Experiments
from actorserve.actors.experiments.canary import CanaryActor
from actorserve.actors.experiments.ensemble import EnsembleActor
from actorserve.actors.experiments.shadow import ShadowActor, ShadowSpec

__all__ = ["ABTestActor", "CanaryActor", "EnsembleActor", "Experiments", "ShadowActor", "ShadowSpec"]
