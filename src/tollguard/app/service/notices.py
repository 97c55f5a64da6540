"""The texts of the notices the service sends, in Japanese then English.

The post-notification (事後連絡) tells a customer that their international calling was suspended,
why, and how to get it back; the source document sends it after a suspension made when the
customer could not be reached.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


def post_suspension(subscriber_id: str, reason: str, at: float) -> tuple[str, str]:
    """Subject and body of the post-notification after a suspension."""
    when = datetime.fromtimestamp(at, JST).strftime("%Y-%m-%d %H:%M JST")
    subject = "【重要】国際通話の利用休止のお知らせ / International calling suspended"
    body = (
        f"お客様番号 {subscriber_id} 様\n\n"
        f"{when}、お客様の回線から不正利用の疑いが高い国際通話が発信されたため、"
        "被害の拡大を防ぐために国際通話のご利用を一時休止いたしました。"
        "事前にお電話でご連絡を試みましたが、つながりませんでした。\n\n"
        "お心当たりのない通話の場合、PBX・IP電話機のパスワード変更、ファームウェアの更新、"
        "外部からの接続制限をお願いいたします。再開をご希望の際は、"
        "サポート窓口までお電話ください。\n\n"
        f"理由: {reason}\n\n"
        "----\n\n"
        f"Customer {subscriber_id},\n\n"
        f"At {when} calls abroad that were very probably fraudulent were made from your line. "
        "To stop the loss we have suspended international calling on your account. We tried "
        "to call you first but could not reach you.\n\n"
        "If you did not make these calls, please change the passwords of your PBX and IP "
        "phones, update their firmware and restrict access to them from the internet. Call "
        "our support desk to have international calling restored.\n\n"
        f"Reason: {reason}\n"
    )
    return subject, body
