"""User-facing text, Vietnamese first and English second.

Every string a citizen or staff member reads comes from CATALOG through `t()`; logic never
holds inline user text. Placeholders use str.format names, identical in both languages (a
unit test checks that). Values may contain Telegram HTML only where the key ends in `_html`.
"""

from __future__ import annotations

from typing import Any

DEFAULT_LANGUAGE = "vi"
LANGUAGES = ("vi", "en")

CATALOG: dict[str, dict[str, str]] = {
    "welcome_new": {
        "vi": (
            "Xin chào {name}! Bạn đã đăng ký nhận bản tin từ {portal}.\n"
            "Bạn sẽ nhận tóm tắt các bài viết mới ngay khi có. Dưới mỗi bài có nút "
            "«Gửi phản hồi» để gửi ý kiến tới cơ quan.\n"
            "Gõ /help để xem hướng dẫn, /stop để ngừng nhận tin."
        ),
        "en": (
            "Hello {name}! You are subscribed to news from {portal}.\n"
            "You will get a short summary of each new article as it appears. Under each one, "
            "the “Gửi phản hồi” (send feedback) button lets you write to the office.\n"
            "Send /help for help, /stop to unsubscribe."
        ),
    },
    "welcome_back": {
        "vi": "Bạn đã đăng ký nhận tin rồi. Gõ /help để xem hướng dẫn, /stop để ngừng nhận tin.",
        "en": "You are already subscribed. Send /help for help, /stop to unsubscribe.",
    },
    "stopped": {
        "vi": "Bạn đã ngừng nhận bản tin. Gõ /start bất cứ lúc nào để đăng ký lại.",
        "en": "You will no longer receive news. Send /start any time to subscribe again.",
    },
    "not_subscribed": {
        "vi": "Bạn chưa đăng ký nhận tin. Gõ /start để đăng ký.",
        "en": "You are not subscribed. Send /start to subscribe.",
    },
    "help": {
        "vi": (
            "Bản tin — hướng dẫn sử dụng\n"
            "/start — đăng ký nhận tin\n"
            "/stop — ngừng nhận tin\n"
            "/help — xem hướng dẫn này\n"
            "/huy — hủy thao tác đang làm\n"
            "Để gửi ý kiến về một bài viết, bấm «Gửi phản hồi» dưới bài hoặc trả lời "
            "(reply) tin nhắn của bài đó."
        ),
        "en": (
            "Bantin — help\n"
            "/start — subscribe to news\n"
            "/stop — unsubscribe\n"
            "/help — this help\n"
            "/cancel — cancel what you are doing\n"
            "To comment on an article, press “Gửi phản hồi” under it or reply to its message."
        ),
    },
    "help_staff": {
        "vi": "\nDành cho cán bộ:\n/broadcast <nội dung> — gửi thông báo tới mọi người đăng ký",
        "en": "\nFor staff:\n/broadcast <text> — send an announcement to every subscriber",
    },
    "unknown_command": {
        "vi": "Không có lệnh /{command}. Gõ /help để xem các lệnh.",
        "en": "There is no /{command} command. Send /help to see the commands.",
    },
    "plain_text_hint": {
        "vi": (
            "Để gửi ý kiến, hãy bấm «Gửi phản hồi» dưới một bài viết hoặc trả lời (reply) "
            "tin nhắn của bài đó. Gõ /help để xem hướng dẫn."
        ),
        "en": (
            "To send feedback, press “Gửi phản hồi” under an article or reply to its message. "
            "Send /help for help."
        ),
    },
    "feedback_button": {"vi": "Gửi phản hồi", "en": "Gửi phản hồi (Feedback)"},
    "feedback_prompt": {
        "vi": "Mời bạn nhập nội dung phản hồi về bài «{title}». Gõ /huy để hủy.",
        "en": "Please type your feedback on “{title}”. Send /cancel to cancel.",
    },
    "feedback_prompt_general": {
        "vi": "Mời bạn nhập nội dung phản hồi. Gõ /huy để hủy.",
        "en": "Please type your feedback. Send /cancel to cancel.",
    },
    "feedback_thanks": {
        "vi": "Cảm ơn bạn đã gửi phản hồi. Mã phản hồi #{ticket}. Cơ quan sẽ xem xét và trả lời.",
        "en": "Thank you for your feedback. Ticket #{ticket}. The office will review and reply.",
    },
    "feedback_too_long": {
        "vi": (
            "Phản hồi dài {length} ký tự, vượt quá giới hạn {limit} ký tự. Vui lòng rút gọn "
            "và gửi lại; nội dung chưa được lưu."
        ),
        "en": (
            "Your feedback is {length} characters, over the {limit}-character limit. Please "
            "shorten it and send again; nothing was saved."
        ),
    },
    "feedback_empty": {
        "vi": "Phản hồi cần có nội dung chữ. Mời bạn nhập lại, hoặc gõ /huy để hủy.",
        "en": "Feedback needs some text. Please type it again, or send /cancel.",
    },
    "article_gone": {
        "vi": "Không tìm thấy bài viết này nữa.",
        "en": "This article is no longer available.",
    },
    "cancelled": {"vi": "Đã hủy.", "en": "Cancelled."},
    "nothing_to_cancel": {"vi": "Không có thao tác nào để hủy.", "en": "Nothing to cancel."},
    "staff_only": {
        "vi": "Xin lỗi, chức năng này chỉ dành cho cán bộ quản trị.",
        "en": "Sorry, this is for staff only.",
    },
    "broadcast_usage": {
        "vi": "Cách dùng: /broadcast <nội dung thông báo>",
        "en": "Usage: /broadcast <announcement text>",
    },
    "broadcast_too_long": {
        "vi": "Thông báo dài {length} ký tự, tối đa {limit} ký tự. Vui lòng rút gọn.",
        "en": "The announcement is {length} characters; at most {limit}. Please shorten it.",
    },
    "broadcast_preview_html": {
        "vi": "<b>Xem trước</b> — thông báo sẽ gửi tới {count} người đăng ký:\n\n{body}",
        "en": "<b>Preview</b> — this announcement will go to {count} subscribers:\n\n{body}",
    },
    "broadcast_confirm": {"vi": "Gửi", "en": "Gửi (Send)"},
    "broadcast_cancel": {"vi": "Hủy", "en": "Hủy (Cancel)"},
    "broadcast_queued": {
        "vi": "Đã xếp hàng gửi thông báo #{id} tới {count} người đăng ký.",
        "en": "Announcement #{id} is queued for {count} subscribers.",
    },
    "broadcast_cancelled": {
        "vi": "Đã hủy thông báo #{id}; không gửi cho ai.",
        "en": "Announcement #{id} cancelled; nothing was sent.",
    },
    "broadcast_already": {
        "vi": "Thông báo #{id} đã được xử lý trước đó.",
        "en": "Announcement #{id} was already handled.",
    },
    "broadcast_progress": {
        "vi": (
            "Thông báo #{id} đang gửi: {sent}/{queued} đã gửi, {failed} lỗi, {blocked} đã chặn "
            "bot, còn {remaining}. Tốc độ {rate} tin/giây, xong sau khoảng {eta}."
        ),
        "en": (
            "Announcement #{id} sending: {sent}/{queued} sent, {failed} failed, {blocked} "
            "blocked the bot, {remaining} left. {rate} messages/s, about {eta} to go."
        ),
    },
    "broadcast_done": {
        "vi": (
            "Thông báo #{id} đã gửi xong: {sent}/{queued} người nhận, {failed} lỗi, "
            "{blocked} đã chặn bot."
        ),
        "en": (
            "Announcement #{id} finished: {sent}/{queued} delivered, {failed} failed, "
            "{blocked} blocked the bot."
        ),
    },
    "duration_seconds": {"vi": "{n} giây", "en": "{n} s"},
    "duration_minutes": {"vi": "{n} phút", "en": "{n} min"},
    "duration_hours": {"vi": "{h} giờ {m} phút", "en": "{h} h {m} min"},
    "announcement_header_html": {"vi": "📢 <b>Thông báo</b>", "en": "📢 <b>Announcement</b>"},
    "announcement_header": {"vi": "📢 THÔNG BÁO", "en": "📢 ANNOUNCEMENT"},
    "feedback_card_html": {
        "vi": ("📨 <b>Phản hồi #{ticket}</b> từ {name}\nBài viết: {article}\n\n{text}"),
        "en": ("📨 <b>Feedback #{ticket}</b> from {name}\nArticle: {article}\n\n{text}"),
    },
    "feedback_card": {
        "vi": "📨 Phản hồi #{ticket} từ {name}\nBài viết: {article}\n\n{text}",
        "en": "📨 Feedback #{ticket} from {name}\nArticle: {article}\n\n{text}",
    },
    "no_article": {"vi": "(không gắn với bài viết)", "en": "(not about an article)"},
    "anonymous": {"vi": "người dân", "en": "a citizen"},
    "read_more": {"vi": "Xem toàn văn", "en": "Read the full article"},
    "portal_default": {"vi": "cổng thông tin", "en": "the portal"},
    "console_banner": {
        "vi": (
            "bantin chạy ở chế độ thử (chưa cấu hình BANTIN_TELEGRAM_TOKEN): đọc nguồn tin "
            "mẫu và in ra những gì người đăng ký sẽ nhận. Nhấn Ctrl+C để dừng."
        ),
        "en": (
            "bantin is running in console mode (no BANTIN_TELEGRAM_TOKEN): it reads the sample "
            "feed and prints what subscribers would receive. Press Ctrl+C to stop."
        ),
    },
    # -- command line (operators) -----------------------------------------------------------
    "cli_settings_invalid": {
        "vi": "Cấu hình không hợp lệ:",
        "en": "Invalid settings:",
    },
    "cli_db_upgraded": {
        "vi": "Cơ sở dữ liệu {url} đã ở phiên bản {revision}.",
        "en": "Database {url} is at revision {revision}.",
    },
    "cli_db_error": {
        "vi": "Không mở được cơ sở dữ liệu {url}: {error}",
        "en": "Cannot open the database {url}: {error}",
    },
    "cli_feed_added": {"vi": "Đã thêm nguồn tin #{id}: {url}", "en": "Added feed #{id}: {url}"},
    "cli_feed_exists": {
        "vi": "Nguồn tin đã có (#{id}): {url}",
        "en": "Feed already present (#{id}): {url}",
    },
    "cli_feed_bad_url": {
        "vi": "Địa chỉ không hợp lệ: {url} (cần http://, https:// hoặc file://)",
        "en": "Not a valid address: {url} (needs http://, https:// or file://)",
    },
    "cli_feed_removed": {"vi": "Đã xóa nguồn tin #{id}.", "en": "Removed feed #{id}."},
    "cli_feed_missing": {"vi": "Không có nguồn tin #{id}.", "en": "There is no feed #{id}."},
    "cli_no_feeds": {
        "vi": "Chưa có nguồn tin nào. Thêm bằng: bantin feeds add URL",
        "en": "No feeds yet. Add one with: bantin feeds add URL",
    },
    "cli_feeds_header": {
        "vi": "ID  TRẠNG THÁI  BÀI  LẦN THÀNH CÔNG CUỐI  LẦN ĐỌC TIẾP  TÊN / ĐỊA CHỈ",
        "en": "ID  STATUS  ARTICLES  LAST SUCCESS  NEXT POLL  NAME / URL",
    },
    "cli_status_ok": {"vi": "tốt", "en": "ok"},
    "cli_status_new": {"vi": "mới", "en": "new"},
    "cli_status_failing": {"vi": "lỗi×{n}", "en": "failing×{n}"},
    "cli_status_disabled": {"vi": "tắt", "en": "off"},
    "cli_last_error": {"vi": "    lỗi gần nhất: {error}", "en": "    last error: {error}"},
    "cli_poll_feed_ok": {
        "vi": "#{id} {name}: {new} bài mới",
        "en": "#{id} {name}: {new} new articles",
    },
    "cli_poll_feed_304": {
        "vi": "#{id} {name}: không có thay đổi",
        "en": "#{id} {name}: not modified",
    },
    "cli_poll_feed_error": {
        "vi": "#{id} {name}: LỖI — {error}",
        "en": "#{id} {name}: ERROR — {error}",
    },
    "cli_poll_done": {
        "vi": "Đã đọc {feeds} nguồn tin: {new} bài mới, {errors} lỗi; xếp hàng {queued} tin gửi.",
        "en": "Polled {feeds} feeds: {new} new articles, {errors} errors; "
        "{queued} messages queued.",
    },
    "cli_deliver_progress": {
        "vi": "đã xử lý {handled} tin (đã gửi {sent})",
        "en": "{handled} messages handled ({sent} sent)",
    },
    "cli_deliver_done": {
        "vi": "Hoàn tất: đã gửi {sent} tin. Trạng thái hộp thư đi: {counts}",
        "en": "Done: {sent} messages sent. Outbox: {counts}",
    },
    "cli_broadcast_confirm": {
        "vi": "Gửi thông báo này tới {count} người đăng ký?",
        "en": "Send this announcement to {count} subscribers?",
    },
    "cli_broadcast_aborted": {"vi": "Đã hủy, không gửi gì.", "en": "Aborted; nothing sent."},
    "cli_broadcast_empty": {
        "vi": "Nội dung thông báo trống.",
        "en": "The announcement text is empty.",
    },
    "cli_broadcast_queued": {
        "vi": "Đã xếp hàng thông báo #{id} tới {count} người đăng ký. Chạy `bantin run` "
        "hoặc `bantin deliver --until-idle` để gửi.",
        "en": "Announcement #{id} queued for {count} subscribers. Run `bantin run` or "
        "`bantin deliver --until-idle` to send it.",
    },
    "cli_export_done": {
        "vi": "Đã xuất {count} phản hồi vào {path}.",
        "en": "Exported {count} feedback items to {path}.",
    },
    "cli_no_dead_letters": {
        "vi": "Không có tin nào bị hỏng (dead letter).",
        "en": "No dead letters.",
    },
    "cli_dead_header": {
        "vi": "ID       LOẠI          MỤC    NGƯỜI    LẦN LỖI CUỐI",
        "en": "ID       KIND          ITEM   RECIP.   TRY LAST ERROR",
    },
    "cli_retry_usage": {
        "vi": "Cần đúng một trong hai: ID của tin hoặc --all.",
        "en": "Give exactly one of: a delivery ID, or --all.",
    },
    "cli_retry_missing": {
        "vi": "Không có tin hỏng #{id}.",
        "en": "There is no dead letter #{id}.",
    },
    "cli_retry_done": {
        "vi": "Đã xếp hàng gửi lại {count} tin.",
        "en": "{count} messages re-queued.",
    },
    "cli_no_broadcasts": {"vi": "Chưa có thông báo nào.", "en": "No broadcasts yet."},
    "cli_broadcast_line": {
        "vi": (
            "#{id} [{status}] {when}: {sent}/{queued} đã gửi, {failed} lỗi, {blocked} chặn bot, "
            "còn {remaining}; {rate} tin/giây, còn {eta} — {text}"
        ),
        "en": (
            "#{id} [{status}] {when}: {sent}/{queued} sent, {failed} failed, {blocked} blocked, "
            "{remaining} left; {rate}/s, {eta} to go — {text}"
        ),
    },
    "cli_fatal": {"vi": "Lỗi: {error}", "en": "Error: {error}"},
    "feed_failing_html": {
        "vi": (
            "⚠️ <b>Nguồn tin lỗi</b>: {name}\n{url}\n{errors} lần lỗi liên tiếp, lần đọc "
            "được gần nhất: {last_success}.\nLỗi: {error}\nbantin vẫn thử lại (giãn dần, "
            "tối đa mỗi ngày một lần) và sẽ báo khi nguồn tin hoạt động lại."
        ),
        "en": (
            "⚠️ <b>Feed failing</b>: {name}\n{url}\n{errors} failures in a row, last read "
            "successfully: {last_success}.\nError: {error}\nbantin keeps retrying (less often, "
            "at least once a day) and will say when the feed works again."
        ),
    },
    "feed_failing": {
        "vi": (
            "⚠️ NGUỒN TIN LỖI: {name}\n{url}\n{errors} lần lỗi liên tiếp, lần đọc được gần "
            "nhất: {last_success}.\nLỗi: {error}\nbantin vẫn thử lại (giãn dần, tối đa mỗi "
            "ngày một lần) và sẽ báo khi nguồn tin hoạt động lại."
        ),
        "en": (
            "⚠️ FEED FAILING: {name}\n{url}\n{errors} failures in a row, last read "
            "successfully: {last_success}.\nError: {error}\nbantin keeps retrying (less often, "
            "at least once a day) and will say when the feed works again."
        ),
    },
    "feed_recovered_html": {
        "vi": "✅ <b>Nguồn tin đã hoạt động lại</b>: {name}\n{url}\nBáo lỗi từ {since}.",
        "en": "✅ <b>Feed working again</b>: {name}\n{url}\nReported failing since {since}.",
    },
    "feed_recovered": {
        "vi": "✅ NGUỒN TIN ĐÃ HOẠT ĐỘNG LẠI: {name}\n{url}\nBáo lỗi từ {since}.",
        "en": "✅ FEED WORKING AGAIN: {name}\n{url}\nReported failing since {since}.",
    },
    "feed_never": {"vi": "chưa lần nào", "en": "never"},
    # -- bantin summarize / feeds import-opml / export-opml (issue 3 items 8, 9) --
    "cli_summarize_progress": {
        "vi": "Đã tóm tắt {count} mục ({rate:.1f} mục/giây, {errors} lỗi)…",
        "en": "Summarized {count} items ({rate:.1f} items/s, {errors} errors)…",
    },
    "cli_summarize_done": {
        "vi": "Xong: {count} mục, {errors} lỗi, {seconds:.1f} giây.",
        "en": "Done: {count} items, {errors} errors, {seconds:.1f} s.",
    },
    "cli_summarize_bad_json": {
        "vi": "dòng {line} không phải JSON hợp lệ: {error}",
        "en": "line {line} is not valid JSON: {error}",
    },
    "cli_summarize_not_object": {
        "vi": "dòng {line} không phải một đối tượng JSON ({{...}})",
        "en": "line {line} is not a JSON object ({{...}})",
    },
    "cli_summarize_no_text": {
        "vi": "thiếu nội dung: cần trường body, html hoặc url",
        "en": "nothing to summarize: give a body, html or url field",
    },
    "cli_summarize_no_main_text": {
        "vi": "không tìm thấy nội dung bài viết trong html",
        "en": "no article text found in the html",
    },
    "cli_summarize_fetch_failed": {
        "vi": "không tải được bài viết từ {url} (xem nhật ký để biết lý do)",
        "en": "could not fetch the article at {url} (the log says why)",
    },
    "cli_summarize_max_chars": {
        "vi": "--max-chars phải từ {low} đến {high}.",
        "en": "--max-chars must be between {low} and {high}.",
    },
    "cli_opml_unreadable": {
        "vi": "Không đọc được tệp {path}: {error}",
        "en": "Cannot read {path}: {error}",
    },
    "cli_opml_invalid": {
        "vi": "Tệp {path} không phải OPML hợp lệ: {error}",
        "en": "{path} is not valid OPML: {error}",
    },
    "cli_opml_progress": {
        "vi": "Đang nhập nguồn tin: {done}/{total}…",
        "en": "Importing feeds: {done}/{total}…",
    },
    "cli_opml_imported": {
        "vi": "Đã thêm {added} nguồn tin, bỏ qua {skipped} nguồn đã có, {invalid} địa chỉ "
        "không hợp lệ (chỉ nhận http:// và https://).",
        "en": "Added {added} feeds, skipped {skipped} already present, {invalid} invalid "
        "addresses (only http:// and https:// are taken).",
    },
    "cli_opml_exported": {
        "vi": "Đã xuất {count} nguồn tin vào {path}.",
        "en": "Exported {count} feeds to {path}.",
    },
}


def t(key: str, lang: str | None = None, /, **params: Any) -> str:
    """The message `key` in `lang` (falling back to Vietnamese), formatted with params."""
    entry = CATALOG[key]
    text = entry.get(lang or DEFAULT_LANGUAGE) or entry[DEFAULT_LANGUAGE]
    return text.format(**params) if params else text


def language_of(code: str | None) -> str:
    """Map a platform language code ('en-US', 'vi') to a supported language."""
    if code and code.split("-")[0].lower() in LANGUAGES:
        return code.split("-")[0].lower()
    return DEFAULT_LANGUAGE
