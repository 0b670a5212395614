"""Sampling: tail sampling in the collector and head-sampling strategies for SDKs."""

from traceway.pipeline.sampling.settings import (
           ConfigValueError,
           PolicyConfig,
           TailConfig,
)
from traceway.pipeline.sampling.strategies import RemoteConfig, Strategies
from traceway.pipeline.sampling.tail import POLICY_ATTRIBUTE, TailSampler

__all__ = [
           "POLICY_ATTRIBUTE",
           "ConfigValueError",
           "PolicyConfig",
           "RemoteConfig",
           "Strategies",
           "TailConfig",
           "TailSampler",
]
