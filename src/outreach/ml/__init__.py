"""The send-time model and the fatigue score: pure, pandas and scikit-learn, no I/O.

- ``features``: patients' cohorts (age band, language, region, channel) and local clocks;
- ``engagement``: the engagement table the models learn from (local hour, prompt and later
  engagement, inverse-propensity weights);
- ``priors``: the cohort prior, a logistic regression of engagement on hour and cohort;
- ``best_hour``: each patient's engagement probability per hour, best hour and confidence,
  training and held-out scoring;
- ``fatigue``: recent sends against recent engagement;
- ``registry``: when a newly trained model replaces the one in use;
- ``evaluation``: learning curves and lifts against a known truth.

The services train and assign (``services/train_send_time_model.py``,
``services/assign_send_times.py``); the preferences core reads the learnt ``best_hour`` and the
fatigue score. See docs/ml.md.
"""
