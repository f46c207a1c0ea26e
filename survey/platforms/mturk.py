"""Amazon Mechanical Turk: ExternalQuestion XML, HIT creation and reviewing assignments.

Every call to MTurk goes through a boto3 client passed in (``make_client`` builds the real
one), so the commands' tests replace it with botocore's Stubber and never touch the network.
"""

from __future__ import annotations

import hashlib
import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from botocore.exceptions import ClientError
from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from survey import services
from survey.models import MTurkHIT, Participant, Study, estimated_minutes

logger = logging.getLogger(__name__)

PARAMS = ("assignmentId", "hitId", "workerId", "turkSubmitTo")
PREVIEW_ASSIGNMENT_ID = "ASSIGNMENT_ID_NOT_AVAILABLE"
SUBMIT_PATH = "/mturk/externalSubmit"
COMPLETION_FIELD = "completion_code"
REGION = "us-east-1"
ENDPOINTS = {
    False: "https://mturk-requester-sandbox.us-east-1.amazonaws.com",
    True: "https://mturk-requester.us-east-1.amazonaws.com",
}
WORKER_SITES = {False: "https://workersandbox.mturk.com", True: "https://worker.mturk.com"}
QUESTION_SCHEMA = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd"
# System qualification types (the same ids in the sandbox and live, except Masters).
QUAL_PERCENT_APPROVED = "000000000000000000L0"
QUAL_NUMBER_APPROVED = "00000000000000000040"
QUAL_LOCALE = "00000000000000000071"
QUAL_MASTERS = {False: "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6", True: "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH"}


class MTurkError(Exception):
    """A problem the researcher must fix (bad option, MTurk refused a call)."""


def make_client(live: bool = False):
    """A boto3 MTurk client for the sandbox, or for the live marketplace when ``live``."""
    import boto3

    return boto3.client("mturk", region_name=REGION, endpoint_url=ENDPOINTS[live])


def submit_url(turk_submit_to: str) -> str:
    return turk_submit_to.rstrip("/") + SUBMIT_PATH


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def is_allowed_submit_target(turk_submit_to: str) -> bool:
    """Only Mechanical Turk's own sites (settings.SURVEY_MTURK_SUBMIT_ORIGINS) may receive the finish form."""
    parts = urlsplit(turk_submit_to)
    if parts.path.strip("/") or parts.query or parts.fragment:
        return False
    return origin(turk_submit_to) in {o.lower().rstrip("/") for o in settings.SURVEY_MTURK_SUBMIT_ORIGINS}


def external_question_xml(url: str, frame_height: int = 0) -> str:
    """The ExternalQuestion that shows ``url`` in MTurk's frame (0 = the whole window)."""
    if urlsplit(url).scheme != "https":
        raise MTurkError(f"MTurk only frames https URLs, not {url}")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ExternalQuestion xmlns="{QUESTION_SCHEMA}">\n'
        f"  <ExternalURL>{escape(url)}</ExternalURL>\n"
        f"  <FrameHeight>{int(frame_height)}</FrameHeight>\n"
        "</ExternalQuestion>\n"
    )


def hit_description(study: Study) -> str:
    """What workers read about the HIT, with the study's own numbers ("25 sets of four images" for the paper's)."""
    return (
        f"Look at {study.n_questions} sets of {study.n_options_in_words} images and pick, in each, the one that "
        f"best explains a digit. About {estimated_minutes(study.n_questions)} minutes."
    )


def request_token(study: Study, live: bool, batch: str) -> str:
    """The UniqueRequestToken of one HIT: the same study, marketplace and batch give the same token."""
    return hashlib.sha256(f"normlime-survey:{study.slug}:{'live' if live else 'sandbox'}:{batch}".encode()).hexdigest()


@dataclass
class HitOptions:
    reward: str = "2.00"
    assignments: int = 100
    lifetime_seconds: int = 7 * 24 * 3600
    duration_seconds: int = 3600
    auto_approval_seconds: int = 3 * 24 * 3600
    title: str = "Choose the picture that best explains a handwritten digit"
    description: str = ""  # empty: :func:`hit_description` of the study
    keywords: str = "survey, images, research, digits"
    min_approval_rate: int | None = None
    min_approved_hits: int | None = None
    locales: list[str] = field(default_factory=list)
    masters: bool = False
    qualification_ids: list[str] = field(default_factory=list)  # custom qualifications required to exist

    def check(self) -> None:
        try:
            reward = Decimal(self.reward)
        except InvalidOperation:
            raise MTurkError(f"reward {self.reward!r} is not an amount in US dollars such as 2.50") from None
        if reward < Decimal("0.01") or reward.as_tuple().exponent < -2:
            raise MTurkError(f"reward {self.reward!r}: at least 0.01, in whole cents")
        if not 1 <= self.assignments <= 1_000_000:
            raise MTurkError(f"assignments {self.assignments}: at least 1")
        if not 30 <= self.duration_seconds <= 365 * 24 * 3600:
            raise MTurkError("duration: between 30 seconds and 365 days")
        if not 60 <= self.lifetime_seconds <= 365 * 24 * 3600:
            raise MTurkError("lifetime: between 1 minute and 365 days")
        if self.min_approval_rate is not None and not 0 <= self.min_approval_rate <= 100:
            raise MTurkError(f"approval rate {self.min_approval_rate}: a percentage from 0 to 100")

    def qualifications(self, live: bool) -> list[dict[str, Any]]:
        quals: list[dict[str, Any]] = []
        if self.min_approval_rate is not None:
            quals.append(
                {
                    "QualificationTypeId": QUAL_PERCENT_APPROVED,
                    "Comparator": "GreaterThanOrEqualTo",
                    "IntegerValues": [self.min_approval_rate],
                    "ActionsGuarded": "DiscoverPreviewAndAccept",
                }
            )
        if self.min_approved_hits is not None:
            quals.append(
                {
                    "QualificationTypeId": QUAL_NUMBER_APPROVED,
                    "Comparator": "GreaterThanOrEqualTo",
                    "IntegerValues": [self.min_approved_hits],
                    "ActionsGuarded": "DiscoverPreviewAndAccept",
                }
            )
        if self.locales:
            quals.append(
                {
                    "QualificationTypeId": QUAL_LOCALE,
                    "Comparator": "In",
                    "LocaleValues": [{"Country": c.upper()} for c in self.locales],
                    "ActionsGuarded": "DiscoverPreviewAndAccept",
                }
            )
        if self.masters:
            quals.append(
                {
                    "QualificationTypeId": QUAL_MASTERS[live],
                    "Comparator": "Exists",
                    "ActionsGuarded": "DiscoverPreviewAndAccept",
                }
            )
        for qid in self.qualification_ids:
            quals.append(
                {"QualificationTypeId": qid, "Comparator": "Exists", "ActionsGuarded": "DiscoverPreviewAndAccept"}
            )
        return quals


@dataclass(frozen=True)
class HitResult:
    hit: MTurkHIT
    created: bool  # False: this batch's HIT already existed, nothing new was created


def create_hit(client, study: Study, url: str, options: HitOptions, live: bool = False, batch: str = "1") -> HitResult:
    """Create the study's HIT for ``batch`` once; a retry returns the same HIT.

    The UniqueRequestToken makes MTurk refuse a second HIT for the same token (for 24 hours);
    the HIT is recorded here so later retries need not ask MTurk at all.
    """
    options.check()
    token = request_token(study, live, batch)
    known = MTurkHIT.objects.filter(unique_request_token=token).first()
    if known is not None:
        return HitResult(known, created=False)
    question = external_question_xml(url)
    try:
        response = client.create_hit(
            MaxAssignments=options.assignments,
            AutoApprovalDelayInSeconds=options.auto_approval_seconds,
            LifetimeInSeconds=options.lifetime_seconds,
            AssignmentDurationInSeconds=options.duration_seconds,
            Reward=options.reward,
            Title=options.title,
            Keywords=options.keywords,
            Description=options.description or hit_description(study),
            Question=question,
            RequesterAnnotation=token,
            QualificationRequirements=options.qualifications(live),
            UniqueRequestToken=token,
        )
        hit = response["HIT"]
    except ClientError as exc:
        if "UniqueRequestToken" not in str(exc) and "already exists" not in str(exc).lower():
            raise MTurkError(f"MTurk refused to create the HIT: {exc}") from None
        # An earlier attempt created it but we never recorded it (crash, timeout): find it.
        hit = _find_hit_by_annotation(client, token)
        if hit is None:
            raise MTurkError(f"MTurk says a HIT with this request token exists but it was not found: {exc}") from None
    try:
        record = MTurkHIT.objects.create(
            study=study,
            hit_id=hit["HITId"],
            hit_type_id=hit.get("HITTypeId", ""),
            sandbox=not live,
            unique_request_token=token,
            max_assignments=hit.get("MaxAssignments", options.assignments),
            reward=hit.get("Reward", options.reward),
            expires_at=hit.get("Expiration"),
        )
    except IntegrityError:
        return HitResult(MTurkHIT.objects.get(unique_request_token=token), created=False)
    logger.info("created %s HIT %s for study %s", "live" if live else "sandbox", record.hit_id, study.slug)
    return HitResult(record, created=True)


def _find_hit_by_annotation(client, token: str) -> dict | None:
    kwargs: dict[str, Any] = {"MaxResults": 100}
    while True:
        page = client.list_hits(**kwargs)
        for hit in page.get("HITs", []):
            if hit.get("RequesterAnnotation") == token:
                return hit
        if not page.get("NextToken") or not page.get("HITs"):
            return None
        kwargs["NextToken"] = page["NextToken"]


def worker_url(hit: MTurkHIT) -> str:
    return (
        f"{WORKER_SITES[not hit.sandbox]}/projects/{hit.hit_type_id}/tasks"
        if hit.hit_type_id
        else WORKER_SITES[not hit.sandbox]
    )


# --- reviewing submitted assignments -------------------------------------------------------------


@dataclass
class SyncReport:
    approved: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    held: list[tuple[str, str]] = field(default_factory=list)  # (assignment id, why it was left alone)


def submitted_assignments(client, hit_id: str) -> Iterator[dict]:
    kwargs: dict[str, Any] = {"HITId": hit_id, "AssignmentStatuses": ["Submitted"], "MaxResults": 100}
    while True:
        page = client.list_assignments_for_hit(**kwargs)
        yield from page.get("Assignments", [])
        if not page.get("NextToken") or not page.get("Assignments"):
            return
        kwargs["NextToken"] = page["NextToken"]


def answer_fields(answer_xml: str) -> dict[str, str]:
    """The fields the finish form posted, from an assignment's QuestionFormAnswers XML."""
    fields: dict[str, str] = {}
    try:
        root = ET.fromstring(answer_xml or "<x/>")
    except ET.ParseError:
        return fields
    for answer in root.iter():
        if answer.tag.rsplit("}", 1)[-1] != "Answer":
            continue
        name = value = ""
        for child in answer:
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "QuestionIdentifier":
                name = (child.text or "").strip()
            elif tag == "FreeText":
                value = (child.text or "").strip()
        if name:
            fields[name] = value
    return fields


def sync_assignments(client, study: Study, live: bool = False, reject_failed: bool = False) -> SyncReport:
    """Approve submitted assignments whose worker finished and passed the checks; report the rest.

    Failed ones are rejected only when ``reject_failed``. An assignment is approved only if its
    worker, assignment and completion code all match a finished participation of this study.
    """
    report = SyncReport()
    hits = list(MTurkHIT.objects.filter(study=study, sandbox=not live))
    if not hits:
        raise MTurkError(
            f"study {study.slug} has no {'live' if live else 'sandbox'} HIT recorded (run mturk_create_hit)"
        )
    for hit in hits:
        for assignment in submitted_assignments(client, hit.hit_id):
            try:
                _review(client, study, assignment, reject_failed, report)
            except ClientError as exc:  # one refused call must not stop the others
                logger.warning("assignment %s: MTurk refused: %s", assignment["AssignmentId"], exc)
                report.held.append((assignment["AssignmentId"], f"MTurk refused the call: {exc}"))
    return report


def _review(client, study: Study, assignment: dict, reject_failed: bool, report: SyncReport) -> None:
    assignment_id = assignment["AssignmentId"]
    participant = Participant.objects.filter(
        study=study, platform=Participant.Platform.MTURK, assignment_id=assignment_id
    ).first()
    if participant is None:
        report.held.append((assignment_id, "no participation recorded for this assignment"))
        return
    if participant.worker_id != assignment.get("WorkerId"):
        report.held.append((assignment_id, f"worker {assignment.get('WorkerId')} differs from the participant's"))
        logger.warning(
            "assignment %s: submitted by %s but taken by %s",
            assignment_id,
            assignment.get("WorkerId"),
            participant.worker_id,
        )
        return
    if not participant.is_finished:
        report.held.append((assignment_id, "the survey was not finished"))
        return
    code = answer_fields(assignment.get("Answer", "")).get(COMPLETION_FIELD)
    if code != participant.completion_code:
        report.held.append((assignment_id, f"completion code {code!r} does not match"))
        return
    if participant.passed:
        client.approve_assignment(
            AssignmentId=assignment_id, RequesterFeedback="Thank you for taking part in our study."
        )
        services.record_review(participant, Participant.Review.APPROVED, timezone.now())
        report.approved.append(assignment_id)
        return
    why = f"passed {participant.checks_passed} of {study.n_attention_checks} attention checks (needs {study.pass_threshold})"
    if not reject_failed:
        report.held.append((assignment_id, why))
        return
    client.reject_assignment(
        AssignmentId=assignment_id,
        RequesterFeedback=f"The survey's attention checks were not passed: {why}.",
    )
    services.record_review(participant, Participant.Review.REJECTED, timezone.now())
    report.rejected.append(assignment_id)
