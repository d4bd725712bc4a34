"""Full-text search over stored articles, diacritic-insensitive on both databases.

The app writes a folded copy of each article's title and summary (`article_search.folded`);
SQLite searches it with FTS5 (a virtual table kept in step by triggers, migration 0005) and
PostgreSQL with to_tsvector('simple', …) over a GIN index. Queries are folded the same way, so
"duong sat", "Đường sắt" and "ĐƯỜNG SẮT" find the same articles, and no `unaccent` is needed.
"""

from __future__ import annotations

from sqlalchemy import func, literal_column, select, text

from storage.base import Repo
from storage.models import ArticleRow, ArticleSearchRow


class SearchRepo(Repo):
    async def unindexed(self, limit: int = 500) -> list[tuple[int, str, str | None]]:
        """(id, title, summary) of articles not yet in the search table."""
        q = (
            select(ArticleRow.id, ArticleRow.title, ArticleRow.summary)
            .outerjoin(ArticleSearchRow, ArticleSearchRow.article_id == ArticleRow.id)
            .where(ArticleSearchRow.article_id.is_(None))
            .order_by(ArticleRow.id)
            .limit(limit)
        )
        async with self._tx() as s:
            return [(int(i), str(t), su) for i, t, su in (await s.execute(q)).all()]

    async def put(self, rows: list[tuple[int, str]]) -> None:
        """Store (article id, folded text); an article already indexed keeps its first text."""
        if not rows:
            return
        stmt = self._insert(ArticleSearchRow).on_conflict_do_nothing(index_elements=["article_id"])
        async with self._tx() as s:
            await s.execute(stmt, [{"article_id": i, "folded": f} for i, f in rows])

    async def search(self, folded_words: list[str], limit: int = 10) -> list[int]:
        """Ids of articles holding every word (already folded), newest first."""
        terms = [w for w in folded_words if w.isalnum()][:10]
        if not terms:
            return []
        async with self._tx() as s:
            if self._dialect == "sqlite":
                # Each word quoted: FTS5 syntax characters in user input stay plain text.
                match = " ".join(f'"{w}"' for w in terms)
                q = text(
                    "SELECT rowid FROM article_search_fts WHERE article_search_fts MATCH :m "
                    "ORDER BY rowid DESC LIMIT :n"
                )
                return [int(r) for r in (await s.execute(q, {"m": match, "n": limit})).scalars()]
            vector = func.to_tsvector(literal_column("'simple'"), ArticleSearchRow.folded)
            query = func.plainto_tsquery(literal_column("'simple'"), " ".join(terms))
            pq = (
                select(ArticleSearchRow.article_id)
                .where(vector.bool_op("@@")(query))
                .order_by(ArticleSearchRow.article_id.desc())
                .limit(limit)
            )
            return [int(r) for r in (await s.execute(pq)).scalars()]
