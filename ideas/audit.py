"""The audit log: every staff action, who did it and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ideas.models import AuditEntry, User


def record(
    session: Session, actor: User, action: str, target_type: str, target_id: int, **details: Any
) -> None:
    session.add(
        AuditEntry(
            actor_id=actor.id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            details=details,
        )
    )


def entries(session: Session, page: int = 1, per_page: int = 50) -> tuple[list[AuditEntry], int]:
    total = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    rows = session.scalars(
        select(AuditEntry)
        .order_by(AuditEntry.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return list(rows), total
