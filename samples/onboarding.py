"""Direct composition: a child workflow awaited inline.

``onboard_user`` awaits ``send_notifications``, itself a workflow: its two steps are
recorded in the parent's event log, under the parent's run id.
"""

from __future__ import annotations

from adapter import step, workflow


@step
async def create_account(email: str) -> dict[str, str]:
    return {"user_id": f"user_{email.split('@')[0]}", "email": email}


@step
async def send_email(user_id: str, template: str) -> str:
    return f"email:{template}:{user_id}"


@step
async def send_push_notification(user_id: str, text: str) -> str:
    return f"push:{user_id}:{text}"


@step
async def setup_preferences(user_id: str) -> dict[str, object]:
    return {"user_id": user_id, "newsletter": True, "theme": "light"}


@workflow
async def send_notifications(user_id: str) -> list[str]:
    email = await send_email(user_id, "welcome")
    push = await send_push_notification(user_id, "Welcome aboard!")
    return [email, push]


@workflow
async def onboard_user(email: str) -> dict[str, object]:
    account = await create_account(email)
    notifications = await send_notifications(account["user_id"])
    preferences = await setup_preferences(account["user_id"])
    return {
        "user_id": account["user_id"],
        "notifications": notifications,
        "preferences": preferences,
    }
