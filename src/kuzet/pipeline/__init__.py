"""The live pipeline wired together: gateway → journal → monitor → store, beside the web application."""

from .service import PipelineOptions, parse_partitions, run_pipeline

__all__ = ["PipelineOptions", "parse_partitions", "run_pipeline"]
