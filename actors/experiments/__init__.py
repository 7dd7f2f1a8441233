"""Experiment actors: A/B tests, shadow deployments, ensembles, canary rollouts."""

from __future__ import annotations

from actors.experiments.ab import ABTestActor
from actors.experiments.api import Experiments
from actors.experiments.canary import CanaryActor
from actors.experiments.ensemble import EnsembleActor
from actors.experiments.shadow import ShadowActor, ShadowSpec

__all__ = ["ABTestActor", "CanaryActor", "EnsembleActor", "Experiments", "ShadowActor", "ShadowSpec"]
