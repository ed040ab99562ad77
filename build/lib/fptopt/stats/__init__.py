"""The statistics layer (numpy, scipy, pandas; no torch): first passages and
Kaplan–Meier survival, the quasi-steady state, responses and the renewal
closure, the multi-frequency design, bootstrap, validation, log readers and
the analysis behind ``fptopt analyze``. See docs/theory.md.
"""

# ``analyze`` (the function) stays in its module, so that ``fptopt.stats.analyze`` is the module.
from .analyze import AnalysisResult, write_analysis
from .design import MultiFrequencyResult, multi_frequency, next_period, renewal_check, replay_design
from .logs import read_runs, read_trajectories
from .qss import QSSResult, detect_qss
from .survival import FirstPassage, SurvivalCurve, first_passage, kaplan_meier

__all__ = ["AnalysisResult", "FirstPassage", "MultiFrequencyResult", "QSSResult", "SurvivalCurve",
           "detect_qss", "first_passage", "kaplan_meier", "multi_frequency", "next_period", "read_runs",
           "read_trajectories", "renewal_check", "replay_design", "write_analysis"]
