"""Human review in the loop: samples, a local review page, ratings, agreement, signed evidence.

A review round draws a reproducible stratified sample of logged requests
(render and outcome events with a redacted response, :mod:`.from_events`) or
of eval outputs (:mod:`.from_evals`) into a queue file (:mod:`.queue`;
:mod:`.sample` draws, :mod:`.render` shows the prompt); a reviewer rates it on
a local page (:mod:`.server`), every verdict appended to a ratings log at once
(:mod:`.verdicts` reads and folds it, :mod:`.ratings` writes it); the ratings
become feedback events (:mod:`.record`, built as
:class:`promptship.events.FeedbackEvent` with ``source="review"``), agreement
statistics (:mod:`.agreement`) and a signed attestation about the bundle whose
eval outputs were reviewed (:mod:`.attest`), which the gate can require. The
use cases of ``promptship review`` are :mod:`.sampling`, :mod:`.record` and
:mod:`.attest`. See ``docs/review.md``.

Owns: queue and ratings files, sampling, the review server and page,
agreement statistics, review attestations.

May import: :mod:`promptship.core`, :mod:`promptship.schemas`,
:mod:`promptship.fs`, :mod:`promptship.events`, :mod:`promptship.git`,
:mod:`promptship.registry`, :mod:`promptship.release`, :mod:`promptship.evals`.
The server's libraries (Starlette, uvicorn) are the ``review`` extra and are
imported by :mod:`.server` only.
"""
