"""Each aide's current caseload, and the completed work waiting for oversight."""

from __future__ import annotations

from ledger.state import State, Task


def current_supervisor(state: State, aide_id: str) -> str | None:
    """The case manager whose supervision of the aide has no end recorded."""
    open_ones = [s for s in state.supervisions_of(aide_id) if s.period.end is None]
    if not open_ones:
        return None
    newest = max(open_ones, key=lambda s: (s.period.start, s.period.start_position))
    return newest.case_manager_id


def caseloads(state: State) -> list[dict]:
    tasks_of: dict[str, list[Task]] = {}
    for task in state.tasks.values():
        tasks_of.setdefault(task.aide_id, []).append(task)
    rows = []
    for aide in sorted(
        (s for s in state.staff.values() if s.kind == "aide"), key=lambda s: s.staff_id
    ):
        tasks = tasks_of.get(aide.staff_id, [])
        open_tasks = [t for t in tasks if t.status in ("assigned", "returned")]
        waiting = [t for t in tasks if t.status == "awaiting_review"]
        rows.append(
            {
                "aide_id": aide.staff_id,
                "agency_id": aide.agency_id,
                "case_manager_id": current_supervisor(state, aide.staff_id),
                "open_tasks": len(open_tasks),
                "awaiting_review": len(waiting),
                "persons": len({t.person_id for t in open_tasks + waiting}),
                "name": aide.name,
            }
        )
    return rows


def oversight_queue(state: State) -> list[dict]:
    """Tasks whose newest completion has no review yet, with who must review it."""
    rows = []
    for task in state.tasks.values():
        if task.status != "awaiting_review":
            continue
        completion = task.newest_completion
        assert completion is not None
        supervisors = state.supervisors_on(completion.aide_id, completion.performed_on)
        reviewer = (
            supervisors[-1].case_manager_id if supervisors else task.case_manager_id
        )
        rows.append(
            {
                "task_id": task.task_id,
                "aide_id": completion.aide_id,
                "case_manager_id": reviewer,
                "person_id": task.person_id,
                "performed_on": completion.performed_on.isoformat(),
                "category": task.category,
                "minutes": completion.minutes,
                "position": completion.position,
            }
        )
    rows.sort(key=lambda q: (q["performed_on"], q["task_id"]))
    return rows
