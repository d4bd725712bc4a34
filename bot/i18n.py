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
    # -- issue 5: subscriber experience (topics, keywords, digests, settings, search) --------
    "onboard": {
        "vi": "Mặc định bạn nhận mọi tin. Bấm «Nhận tất cả tin» là xong, hoặc chọn chủ đề, "
        "nguồn tin bạn quan tâm. Gõ /caidat để đổi bất cứ lúc nào.",
        "en": "By default you get all news. Press “All news” and you are done, or pick the "
        "topics and sources you care about. Send /settings to change this any time.",
    },
    "onboard_done": {
        "vi": "Xong! Bạn sẽ nhận mọi tin mới. Gõ /caidat để thay đổi.",
        "en": "Done! You will get all new articles. Send /settings to change that.",
    },
    "btn_onboard_all": {"vi": "✅ Nhận tất cả tin", "en": "✅ All news"},
    "settings_hint": {
        "vi": "Gõ /caidat để xem và đổi lựa chọn.",
        "en": "Send /settings to see and change your choices.",
    },
    "deeplink_topic": {
        "vi": "Bạn đã chọn nhận tin chủ đề «{name}».",
        "en": "You now follow the topic “{name}”.",
    },
    "deeplink_feed": {
        "vi": "Bạn đã chọn nhận tin từ nguồn «{name}».",
        "en": "You now follow the source “{name}”.",
    },
    "deeplink_bad": {
        "vi": "Liên kết mời không còn hợp lệ; bạn vẫn nhận mọi tin.",
        "en": "That invitation link is no longer valid; you get all news.",
    },
    "help_subscriber": {
        "vi": "\n/caidat — chủ đề, nguồn tin, chế độ nhận, giờ yên lặng\n"
        "/tukhoa — từ khóa lọc tin\n/moinhat — tin mới nhất\n/tim <từ> — tìm bài viết\n"
        "/lang — đổi ngôn ngữ (Tiếng Việt / English)",
        "en": "\n/settings — topics, sources, delivery mode, quiet hours\n"
        "/keywords — keyword filters\n/latest — latest articles\n/search <words> — find "
        "articles\n/lang — switch language (Tiếng Việt / English)",
    },
    "settings_summary": {
        "vi": "Cài đặt của bạn\nNhận tin: {scope}\nChế độ: {mode}\nGiờ yên lặng: {quiet}\n"
        "Xem trước liên kết: {preview}\nTừ khóa: {keywords}\nNgôn ngữ: {language}",
        "en": "Your settings\nNews: {scope}\nMode: {mode}\nQuiet hours: {quiet}\n"
        "Link preview: {preview}\nKeywords: {keywords}\nLanguage: {language}",
    },
    "settings_scope_all": {"vi": "tất cả tin", "en": "all news"},
    "settings_scope_mix": {
        "vi": "{topics} chủ đề, {feeds} nguồn tin đã chọn",
        "en": "{topics} topics and {feeds} sources chosen",
    },
    "mode_instant": {"vi": "nhận ngay khi có tin", "en": "as soon as published"},
    "mode_digest": {"vi": "bản tin tổng hợp lúc {times}", "en": "a digest at {times}"},
    "none": {"vi": "không có", "en": "none"},
    "on": {"vi": "bật", "en": "on"},
    "off": {"vi": "tắt", "en": "off"},
    "language_name": {"vi": "Tiếng Việt", "en": "English"},
    "btn_topics": {"vi": "Chủ đề", "en": "Topics"},
    "btn_feeds": {"vi": "Nguồn tin", "en": "Sources"},
    "btn_mode_digest": {"vi": "Chuyển sang bản tin tổng hợp", "en": "Switch to a digest"},
    "btn_mode_instant": {"vi": "Chuyển sang nhận ngay", "en": "Switch to instant"},
    "btn_times": {"vi": "Giờ nhận tổng hợp", "en": "Digest times"},
    "btn_quiet": {"vi": "Giờ yên lặng", "en": "Quiet hours"},
    "btn_preview_on": {"vi": "Bật xem trước liên kết", "en": "Link preview on"},
    "btn_preview_off": {"vi": "Tắt xem trước liên kết", "en": "Link preview off"},
    "btn_keywords": {"vi": "Từ khóa", "en": "Keywords"},
    "btn_language": {"vi": "English", "en": "Tiếng Việt"},
    "btn_done": {"vi": "Xong", "en": "Done"},
    "btn_all_news": {"vi": "Tất cả tin", "en": "All news"},
    "btn_back": {"vi": "‹ Quay lại", "en": "‹ Back"},
    "choose_topics": {
        "vi": "Chọn các chủ đề bạn muốn nhận (bấm lần nữa để bỏ chọn):",
        "en": "Choose the topics you want (press again to unselect):",
    },
    "choose_topics_none": {
        "vi": "Cổng thông tin chưa lập danh sách chủ đề; bạn nhận mọi tin.",
        "en": "The portal has not set up topics yet; you get all news.",
    },
    "choose_feeds": {
        "vi": "Chọn các nguồn tin bạn muốn nhận (bấm lần nữa để bỏ chọn):",
        "en": "Choose the sources you want (press again to unselect):",
    },
    "choose_feeds_none": {"vi": "Chưa có nguồn tin nào.", "en": "There are no sources yet."},
    "scope_all_set": {"vi": "Bạn sẽ nhận mọi tin.", "en": "You will get all news."},
    "settings_closed": {
        "vi": "Đã lưu cài đặt. Gõ /caidat để xem lại.",
        "en": "Settings saved. Send /settings to see them again.",
    },
    "ask_times": {
        "vi": "Nhập giờ nhận bản tin tổng hợp, ví dụ: 7:00, 19:00 (tối đa 6 mốc). Gõ /huy để hủy.",
        "en": "Type the digest times, e.g. 7:00, 19:00 (at most 6). Send /cancel to cancel.",
    },
    "ask_quiet": {
        "vi": "Nhập giờ yên lặng, ví dụ: 22:00-06:00, hoặc «tắt». Gõ /huy để hủy.",
        "en": "Type your quiet hours, e.g. 22:00-06:00, or “off”. Send /cancel to cancel.",
    },
    "bad_times": {
        "vi": "Chưa hiểu giờ bạn nhập. Ví dụ: 7:00, 19:00. Gõ /huy để hủy.",
        "en": "I could not read those times. Example: 7:00, 19:00. Send /cancel to cancel.",
    },
    "bad_quiet": {
        "vi": "Chưa hiểu giờ yên lặng. Ví dụ: 22:00-06:00 hoặc «tắt». Gõ /huy để hủy.",
        "en": "I could not read those quiet hours. Example: 22:00-06:00 or “off”. "
        "Send /cancel to cancel.",
    },
    "times_saved": {
        "vi": "Bạn sẽ nhận bản tin tổng hợp lúc {times}.",
        "en": "You will get a digest at {times}.",
    },
    "quiet_saved": {"vi": "Giờ yên lặng: {quiet}.", "en": "Quiet hours: {quiet}."},
    "lang_switched": {
        "vi": "Đã chuyển sang Tiếng Việt.",
        "en": "Switched to English.",
    },
    "keywords_usage": {
        "vi": "Từ khóa lọc tin (không phân biệt hoa thường, có dấu hay không dấu):\n"
        "/tukhoa an ninh, giao thông — chỉ nhận tin có các từ này\n"
        "/tukhoa -xổ số — không nhận tin có từ này\n"
        "/tukhoa xoa an ninh — bỏ một từ khóa; /tukhoa xoa — bỏ hết",
        "en": "Keyword filters (case- and diacritic-insensitive):\n"
        "/keywords an ninh, giao thông — only articles with these words\n"
        "/keywords -xổ số — never articles with this word\n"
        "/keywords del an ninh — remove one; /keywords del — remove all",
    },
    "keywords_list": {
        "vi": "Chỉ nhận tin có: {include}\nKhông nhận tin có: {exclude}",
        "en": "Only articles with: {include}\nNever articles with: {exclude}",
    },
    "keywords_added": {"vi": "Đã thêm từ khóa: {words}.", "en": "Keywords added: {words}."},
    "keyword_removed": {"vi": "Đã bỏ từ khóa «{word}».", "en": "Removed the keyword “{word}”."},
    "keyword_missing": {"vi": "Không có từ khóa «{word}».", "en": "There is no keyword “{word}”."},
    "keywords_cleared": {"vi": "Đã bỏ mọi từ khóa.", "en": "All keywords removed."},
    "keywords_full": {
        "vi": "Bạn đã có quá nhiều từ khóa; hãy bỏ bớt trước.",
        "en": "You have too many keywords; remove some first.",
    },
    "latest_header_one": {"vi": "Tin mới nhất:", "en": "The latest article:"},
    "latest_header_other": {"vi": "{count} tin mới nhất:", "en": "The {count} latest articles:"},
    "latest_none": {
        "vi": "Chưa có bài viết nào phù hợp với lựa chọn của bạn.",
        "en": "No articles match your choices yet.",
    },
    "search_usage": {
        "vi": "Cách dùng: /tim <từ cần tìm>, ví dụ /tim an ninh",
        "en": "Usage: /search <words>, e.g. /search an ninh",
    },
    "search_header_one": {
        "vi": "Kết quả tìm «{query}»: {count} bài",
        "en": "Search “{query}”: {count} article",
    },
    "search_header_other": {
        "vi": "Kết quả tìm «{query}»: {count} bài",
        "en": "Search “{query}”: {count} articles",
    },
    "search_none": {
        "vi": "Không tìm thấy bài viết nào cho «{query}».",
        "en": "No articles found for “{query}”.",
    },
    "digest_header_html": {
        "vi": "🗞 <b>Bản tin tổng hợp</b> — {count} tin",
        "en": "🗞 <b>Your digest</b> — {count} articles",
    },
    "digest_header": {
        "vi": "🗞 BẢN TIN TỔNG HỢP — {count} tin",
        "en": "🗞 YOUR DIGEST — {count} articles",
    },
    "group_admin_only": {
        "vi": "Chỉ quản trị viên của nhóm mới thay đổi được việc nhận tin của nhóm.",
        "en": "Only the group's administrators can change its news subscription.",
    },
    "cli_topic_added": {"vi": "Chủ đề #{id}: {name}", "en": "Topic #{id}: {name}"},
    "cli_topic_removed": {"vi": "Đã xóa chủ đề #{id}.", "en": "Removed topic #{id}."},
    "cli_topic_missing": {"vi": "Không có chủ đề {name}.", "en": "There is no topic {name}."},
    "cli_topic_mapped": {
        "vi": "Chuyên mục «{category}» → chủ đề {name}.",
        "en": "Category “{category}” → topic {name}.",
    },
    "cli_topic_unmapped": {
        "vi": "Đã bỏ chuyên mục «{category}».",
        "en": "Category “{category}” unmapped.",
    },
    "cli_no_topics": {
        "vi": "Chưa có chủ đề nào. Thêm bằng: bantin topics add TÊN",
        "en": "No topics yet. Add one with: bantin topics add NAME",
    },
    "cli_topic_line": {
        "vi": "#{id} {name} — mời: {link} — chuyên mục: {categories}",
        "en": "#{id} {name} — invite: {link} — categories: {categories}",
    },
    "cli_qr_written": {
        "vi": "Đã ghi mã QR của {link} vào {path}.",
        "en": "Wrote the QR code of {link} to {path}.",
    },
    "cli_qr_usage": {
        "vi": "Cần đúng một trong hai: --topic hoặc --source.",
        "en": "Give exactly one of --topic or --source.",
    },
    "cli_qr_no_username": {
        "vi": "Cần tên bot: dùng --bot TÊN hoặc đặt BANTIN_BOT_USERNAME.",
        "en": "The bot's username is needed: pass --bot NAME or set BANTIN_BOT_USERNAME.",
    },
    "menu_choose": {
        "vi": "Trả lời bằng một số để chọn:",
        "en": "Reply with a number to choose:",
    },
    "menu_code_line": {
        "vi": "{label}: trả lời {code}",
        "en": "{label}: reply {code}",
    },
    "zalo_outside_window": {
        "vi": "Không gửi: người dùng không tương tác với OA trong 7 ngày qua (quy định của Zalo).",
        "en": "Not sent: the user has not interacted with the OA in the last 7 days (Zalo's rule).",
    },
    "zalo_oa_reauth": {
        "vi": "Zalo OA: mã làm mới (refresh token) không còn dùng được ({error}). Hãy cấp "
        "quyền lại cho ứng dụng trên developers.zalo.me, đặt BANTIN_ZALO_OA_REFRESH_TOKEN "
        "mới và khởi động lại.",
        "en": "Zalo OA: the refresh token no longer works ({error}). Re-authorize the app on "
        "developers.zalo.me, set a new BANTIN_ZALO_OA_REFRESH_TOKEN and restart.",
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


# -- issue 6: staff tools. Their own block, merged into CATALOG once at import (a dict literal,
# no I/O), so parallel work on the catalog above never collides with it.
CATALOG.update(
    {
        # guided /broadcast
        "wizard_compose": {
            "vi": (
                "Soạn thông báo (bước 1/5). Gửi nội dung; có thể dùng *chữ đậm*, _chữ nghiêng_ "
                "và [liên kết](https://...). Gõ /huy để hủy.\n"
                "Gửi nhanh một dòng: /broadcast <nội dung>"
            ),
            "en": (
                "Compose an announcement (step 1/5). Send its text; you may use *bold*, "
                "_italic_ and [links](https://...). Send /cancel to stop.\n"
                "One line, no questions: /broadcast <text>"
            ),
        },
        "wizard_photo": {
            "vi": "Bước 2/5: gửi một ảnh kèm thông báo, hoặc bấm «Không kèm ảnh».",
            "en": "Step 2/5: send a photo to go with it, or press “No photo”.",
        },
        "wizard_skip_photo": {"vi": "Không kèm ảnh", "en": "Không kèm ảnh (No photo)"},
        "wizard_photo_expected": {
            "vi": "Đang chờ ảnh. Gửi một ảnh, hoặc bấm «Không kèm ảnh».",
            "en": "Waiting for a photo. Send one, or press “No photo”.",
        },
        "wizard_audience": {
            "vi": "Bước 3/5: gửi tới ai?",
            "en": "Step 3/5: who should receive it?",
        },
        "wizard_everyone": {"vi": "Tất cả người đăng ký", "en": "Everyone subscribed"},
        "wizard_topic": {"vi": "Chủ đề: {name}", "en": "Topic: {name}"},
        "wizard_source": {"vi": "Nguồn tin: {name}", "en": "Source: {name}"},
        "wizard_time": {
            "vi": (
                "Bước 4/5: gửi lúc nào? Bấm «Gửi ngay», hoặc nhập giờ theo giờ Việt Nam: "
                "HH:MM (hôm nay) hoặc DD/MM HH:MM hoặc DD/MM/YYYY HH:MM."
            ),
            "en": (
                "Step 4/5: when? Press “Now”, or type a time in Vietnam time: HH:MM (today), "
                "DD/MM HH:MM or DD/MM/YYYY HH:MM."
            ),
        },
        "wizard_now": {"vi": "Gửi ngay", "en": "Gửi ngay (Now)"},
        "wizard_when_now": {"vi": "ngay khi xác nhận", "en": "as soon as confirmed"},
        "wizard_time_bad": {
            "vi": "Không hiểu thời gian «{value}». Ví dụ: 07:30 hoặc 05/12 07:30.",
            "en": "Cannot read the time “{value}”. For example: 07:30 or 05/12 07:30.",
        },
        "wizard_time_past": {
            "vi": "Thời điểm {when} đã qua. Nhập một thời điểm sắp tới, hoặc bấm «Gửi ngay».",
            "en": "{when} has passed. Type a time to come, or press “Now”.",
        },
        "wizard_urgent": {
            "vi": "Bước 5/5: thông báo khẩn? Tin khẩn được gửi cả trong giờ yên lặng.",
            "en": "Step 5/5: urgent? Urgent announcements are sent during quiet hours too.",
        },
        "wizard_urgent_yes": {"vi": "Khẩn", "en": "Khẩn (Urgent)"},
        "wizard_urgent_no": {"vi": "Bình thường", "en": "Bình thường (Normal)"},
        "wizard_preview_title": {
            "vi": "Xem trước — người nhận sẽ thấy đúng như tin dưới đây:",
            "en": "Preview — recipients will see exactly the message below:",
        },
        "wizard_summary": {
            "vi": (
                "Thông báo #{id}\nNgười nhận: {audience} ({count} người)\nThời điểm: {when}\n"
                "Mức độ: {urgent}\nBấm «Gửi» để xác nhận hoặc «Hủy»."
            ),
            "en": (
                "Announcement #{id}\nRecipients: {audience} ({count} people)\nWhen: {when}\n"
                "Priority: {urgent}\nPress “Gửi” to confirm or “Hủy” to cancel."
            ),
        },
        "wizard_scheduled": {
            "vi": "Đã hẹn gửi thông báo #{id} lúc {when}. Xem hoặc hủy bằng /broadcasts.",
            "en": "Announcement #{id} is scheduled for {when}. See or cancel it with /broadcasts.",
        },
        "wizard_stale": {
            "vi": "Bản nháp này không còn ở bước đó. Gõ /broadcast để soạn lại.",
            "en": "This draft is no longer at that step. Send /broadcast to start again.",
        },
        # /broadcasts
        "broadcasts_none": {"vi": "Chưa có thông báo nào.", "en": "No announcements yet."},
        "broadcasts_title": {"vi": "Thông báo gần đây:", "en": "Recent announcements:"},
        "broadcasts_line": {
            "vi": (
                "#{id} · {status} · {when} · đã gửi {sent}, chờ {pending}, lỗi {failed}, "
                "chặn bot {blocked}, đã hủy {cancelled} — {text}"
            ),
            "en": (
                "#{id} · {status} · {when} · sent {sent}, waiting {pending}, failed {failed}, "
                "blocked {blocked}, cancelled {cancelled} — {text}"
            ),
        },
        "broadcasts_cancel_button": {"vi": "Hủy #{id}", "en": "Hủy #{id} (Cancel)"},
        "broadcast_status_draft": {"vi": "nháp", "en": "draft"},
        "broadcast_status_scheduled": {"vi": "đã hẹn giờ", "en": "scheduled"},
        "broadcast_status_queued": {"vi": "đang gửi", "en": "sending"},
        "broadcast_status_finished": {"vi": "đã gửi xong", "en": "finished"},
        "broadcast_status_cancelled": {"vi": "đã hủy", "en": "cancelled"},
        "broadcast_stopped": {
            "vi": "Đã hủy thông báo #{id}: dừng {pending} tin chưa gửi; {sent} tin đã gửi trước.",
            "en": "Announcement #{id} cancelled: {pending} unsent stopped; {sent} already sent.",
        },
        "broadcast_not_cancellable": {
            "vi": "Thông báo #{id} không thể hủy nữa (đã gửi xong hoặc đã hủy).",
            "en": "Announcement #{id} can no longer be cancelled (finished or cancelled).",
        },
        # feedback inbox
        "ticket_reply_card_html": {
            "vi": "↩️ <b>Phản hồi #{ticket}</b> — {name} trả lời thêm:\n\n{text}",
            "en": "↩️ <b>Feedback #{ticket}</b> — {name} replied:\n\n{text}",
        },
        "ticket_reply_card": {
            "vi": "↩️ Phản hồi #{ticket} — {name} trả lời thêm:\n\n{text}",
            "en": "↩️ Feedback #{ticket} — {name} replied:\n\n{text}",
        },
        "ticket_status_open": {"vi": "Trạng thái: chưa xử lý", "en": "Status: open"},
        "ticket_status_answered": {"vi": "Trạng thái: đã trả lời", "en": "Status: answered"},
        "ticket_status_closed": {"vi": "Trạng thái: đã xử lý", "en": "Status: closed"},
        "ticket_banned": {
            "vi": "Người gửi đang bị chặn phản hồi.",
            "en": "This citizen is banned from sending feedback.",
        },
        "ticket_answer_button": {"vi": "Trả lời", "en": "Trả lời (Answer)"},
        "ticket_close_button": {"vi": "Đã xử lý", "en": "Đã xử lý (Done)"},
        "ticket_ban_button": {"vi": "Chặn", "en": "Chặn (Ban)"},
        "ticket_unban_button": {"vi": "Bỏ chặn", "en": "Bỏ chặn (Unban)"},
        "ticket_missing": {
            "vi": "Không tìm thấy phản hồi #{ticket}.",
            "en": "Feedback #{ticket} was not found.",
        },
        "answer_prompt": {
            "vi": "Nhập câu trả lời cho phản hồi #{ticket} (gõ /huy để thôi).",
            "en": "Type the answer to feedback #{ticket} (send /cancel to stop).",
        },
        "answer_empty": {
            "vi": "Câu trả lời cần có nội dung chữ.",
            "en": "The answer needs some text.",
        },
        "answer_too_long": {
            "vi": "Câu trả lời dài {length} ký tự, tối đa {limit} ký tự.",
            "en": "The answer is {length} characters; at most {limit}.",
        },
        "answer_queued": {
            "vi": "Đã gửi trả lời phản hồi #{ticket} tới người dân.",
            "en": "The answer to feedback #{ticket} is on its way to the citizen.",
        },
        "answer_html": {
            "vi": (
                "💬 <b>Cơ quan trả lời phản hồi #{ticket}</b>\n<blockquote>{quoted}</blockquote>"
                "\n\n{answer}\n\n<i>Trả lời tin nhắn này nếu bạn muốn nói thêm.</i>"
            ),
            "en": (
                "💬 <b>The office answered your feedback #{ticket}</b>\n"
                "<blockquote>{quoted}</blockquote>\n\n{answer}\n\n"
                "<i>Reply to this message to add something.</i>"
            ),
        },
        "answer": {
            "vi": (
                "💬 Cơ quan trả lời phản hồi #{ticket}\n« {quoted} »\n\n{answer}\n\n"
                "Trả lời tin nhắn này nếu bạn muốn nói thêm."
            ),
            "en": (
                "💬 The office answered your feedback #{ticket}\n« {quoted} »\n\n{answer}\n\n"
                "Reply to this message to add something."
            ),
        },
        "ticket_closed": {
            "vi": "Phản hồi #{ticket} đã được đánh dấu đã xử lý.",
            "en": "Feedback #{ticket} is marked as done.",
        },
        "ticket_already_closed": {
            "vi": "Phản hồi #{ticket} đã được xử lý trước đó.",
            "en": "Feedback #{ticket} was already done.",
        },
        "citizen_banned": {
            "vi": "Đã chặn người gửi phản hồi #{ticket}.",
            "en": "The sender of feedback #{ticket} is banned.",
        },
        "citizen_unbanned": {
            "vi": "Đã bỏ chặn người gửi phản hồi #{ticket}.",
            "en": "The sender of feedback #{ticket} is no longer banned.",
        },
        "inbox_empty": {
            "vi": "Không có phản hồi nào đang chờ xử lý.",
            "en": "No open feedback.",
        },
        "inbox_title": {
            "vi": "Phản hồi chờ xử lý ({count}):",
            "en": "Open feedback ({count}):",
        },
        "inbox_line": {
            "vi": "#{ticket} · {name} · {when} — {text}",
            "en": "#{ticket} · {name} · {when} — {text}",
        },
        "inbox_answer_button": {"vi": "Trả lời #{ticket}", "en": "Trả lời #{ticket} (Answer)"},
        # citizens
        "feedback_banned": {
            "vi": (
                "Xin lỗi, cơ quan hiện không nhận phản hồi từ tài khoản này. Bạn vẫn nhận bản tin "
                "bình thường."
            ),
            "en": (
                "Sorry, the office is not accepting feedback from this account. You still "
                "receive the news as usual."
            ),
        },
        "feedback_rate_limited": {
            "vi": (
                "Cảm ơn bạn! Bạn đã gửi khá nhiều phản hồi trong ít phút. Mời bạn gửi tiếp sau "
                "khoảng {minutes} phút nữa."
            ),
            "en": (
                "Thank you! You have sent a lot of feedback in a few minutes. Please send more "
                "in about {minutes} minutes."
            ),
        },
        "feedback_reply_thanks": {
            "vi": "Đã chuyển ý kiến của bạn vào phản hồi #{ticket}. Cảm ơn bạn!",
            "en": "Your message was added to feedback #{ticket}. Thank you!",
        },
        # /staff
        "admin_only": {
            "vi": "Xin lỗi, chức năng này chỉ dành cho quản trị viên.",
            "en": "Sorry, this is for admins only.",
        },
        "staff_list_title": {"vi": "Cán bộ:", "en": "Staff:"},
        "staff_list_line": {
            "vi": "• {platform}:{user} — {role}",
            "en": "• {platform}:{user} — {role}",
        },
        "staff_usage": {
            "vi": "Cách dùng: /staff add <mã người dùng> [admin|editor] · /staff remove <mã>",
            "en": "Usage: /staff add <user id> [admin|editor] · /staff remove <id>",
        },
        "staff_added": {
            "vi": "Đã thêm {user} với vai trò {role}.",
            "en": "{user} added as {role}.",
        },
        "staff_removed": {"vi": "Đã xóa {user} khỏi danh sách cán bộ.", "en": "{user} removed."},
        "staff_missing": {
            "vi": "{user} không có trong danh sách cán bộ.",
            "en": "{user} is not staff.",
        },
        "staff_last_admin": {
            "vi": "Không thể xóa quản trị viên cuối cùng.",
            "en": "The last admin cannot be removed.",
        },
        # CLI
        "cli_staff_added": {
            "vi": "Đã thêm {platform}:{user} ({role}).",
            "en": "Added {platform}:{user} ({role}).",
        },
        "cli_staff_removed": {
            "vi": "Đã xóa {platform}:{user}.",
            "en": "Removed {platform}:{user}.",
        },
        "cli_staff_missing": {
            "vi": "{platform}:{user} không có trong danh sách cán bộ.",
            "en": "{platform}:{user} is not staff.",
        },
        "cli_staff_bad_role": {
            "vi": "Vai trò «{role}» không hợp lệ; dùng admin hoặc editor.",
            "en": "Unknown role “{role}”; use admin or editor.",
        },
        "cli_staff_none": {"vi": "Chưa có cán bộ nào.", "en": "No staff yet."},
        "cli_audit_none": {"vi": "Nhật ký trống.", "en": "The audit log is empty."},
        "cli_export_bad_format": {
            "vi": "Định dạng «{format}» không hỗ trợ; dùng csv hoặc xlsx.",
            "en": "Unknown format “{format}”; use csv or xlsx.",
        },
        "cli_export_bad_date": {
            "vi": "Ngày «{value}» không hợp lệ; dùng YYYY-MM-DD.",
            "en": "Cannot read the date “{value}”; use YYYY-MM-DD.",
        },
        "cli_export_xlsx_needs_file": {
            "vi": "Xuất XLSX cần --output TỆP.xlsx.",
            "en": "XLSX export needs --output FILE.xlsx.",
        },
    }
)
