"""Best-send-hour and fatigue models (scikit-learn): features, training, evaluation, registry
(the ``ml_models`` table). Not built yet; the preferences core already reads a learnt
``best_hour`` from the hierarchy, which is where this package's output will land.
"""
