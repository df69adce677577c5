"""Grade delivery (DESIGN.md §5.6): transactional outbox → AGS scores, framework-free.

Modules:

* ``sync.model``     — ``OutboxStatus`` (+ ``TRANSITIONS``), ``LineItemRef``, ``ScoreUpdate``,
  ``OutboxItem``, ``ActivityProgress``, ``GradingProgress``, ``next_score_timestamp``.
* ``sync.scores``    — ``scorm.outcome.Outcome`` (+ ``Completion``/``Success``, re-exported) →
  ``build_score_update``;
  ``score_payload``, ``scores_url``/``results_url``, ``suppression_reason`` (Moodle clears
  grades on non-final posts), media types and AGS scopes.
* ``sync.retry``     — pure ``decide(AttemptResult, attempts=, now=, rng=, policy=)`` →
  ``RetryDecision``; ``RetryPolicy`` (data); ``sanitize_message``; ``parse_retry_after``.
* ``sync.breaker``   — per-platform circuit breaker (pure functions + ``Breakers`` registry).
* ``sync.ports``     — ``OutboxStore``, ``PlatformDirectory``, ``TokenProvider``, ``TokenCache``,
  ``SigningKeyProvider``, ``Clock`` protocols with their intended SQL.
* ``sync.memory``    — thread-safe in-memory implementations (tests, benchmark).
* ``sync.tokens``    — ``ClientCredentialsTokenProvider`` (RS256 client assertion, cached).
* ``sync.ags``       — ``AgsClient``: scores, line items (paging, find-or-create), results.
* ``sync.worker``    — ``Worker`` (``run_once``/``run_forever``/``stop``), ``WorkerConfig``,
  ``install_stop_signals``.
* ``sync.reconcile`` — ``verify_delivered`` (gradebook vs. what was delivered).
* ``sync.errors``    — ``SyncError`` and its coded subclasses.
"""
