"""Notifications apart from the case: the case writes outbox rows, the notification dispatcher delivers them.

`policy` says which channel serves which recipient (WeCom and DingTalk group robots, SMS through a gateway;
the generic webhook gets every notice when WEBHOOK_URL is set), `channels` joins it with the secrets from
settings, `outbox` is every read and write of the outbox tables, `dispatcher` claims and sends.
"""
