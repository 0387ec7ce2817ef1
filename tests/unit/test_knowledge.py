"""The help centre's pure parts and its service on an in-memory database: articles (parsing, checking, passages,
the short answer, HTML), the search (stems, BM25's scale, the hybrid, the confidence rule), the store (embeddings
made once, the revision, the cache of an imported directory), the service (the FAQ rule, drafts, gaps)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from knowledge import search
from knowledge.articles import Article, ArticleError, Passage, dump, parse, passages, short_answer, to_html
from knowledge.encoder import ENCODER_FINGERPRINT
from knowledge.search import Entry, SearchIndex, terms
from knowledge.service import group
from knowledge.store import AskedQuestion
from tests.help_centre import DELIVERY, GIFT_CARDS, OAK_CARE, articles, memory_knowledge

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def knowledge():
    return memory_knowledge()


# ---- articles -------------------------------------------------------------------------------------------------


def test_an_article_file_reads_and_writes_back_the_same() -> None:
    article = parse(GIFT_CARDS)
    assert article.slug == "gift-cards" and article.topics == ("gift-cards",)
    assert article.last_reviewed == dt.date(2026, 11, 20) and article.status == "published"
    assert article.questions == ("do you sell gift vouchers", "can i buy someone a gift card for their birthday")
    assert parse(dump(article)) == article
    draft = Article("a-draft", "A draft", "Short.", "Body.", status="draft")
    assert parse(dump(draft)) == draft


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("no front matter here", "front matter"),
        ("---\ntitle: [unclosed\n---\nbody", "not valid YAML"),
        ("---\ntitle: T\nslug: Not A Slug\nsummary: s\n---\nbody", "slug"),
        ("---\ntitle: T\nslug: ok\nsummary: s\nlast_reviewed: yesterday\n---\nbody", "last_reviewed"),
        ("---\ntitle: T\nslug: ok\nsummary: s\n---\n", "text"),
        ("---\ntitle: T\nslug: ok\nsummary: s\nquestions: just one string\n---\nbody", "questions"),
        ("---\ntitle: T\nslug: ok\nsummary: s\nstatus: secret\n---\nbody", "status"),
    ],
)
def test_a_broken_article_is_refused_with_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ArticleError, match=says):
        parse(text)


def test_passages_are_the_summary_the_sections_then_the_questions() -> None:
    found = passages(parse(OAK_CARE))
    assert [(p.position, p.kind, p.heading) for p in found] == [
        (0, "summary", "Caring for oak furniture"),
        (1, "section", "Caring for oak furniture"),  # the opening, before the first heading
        (2, "section", "Everyday care"),
        (3, "section", "White rings and marks"),
        (4, "question", ""),
    ]
    assert found[3].text.startswith("A white ring is trapped moisture.")
    assert found[4].search_text("Caring for oak furniture") == "theres a white ring on my oak table from a mug"
    assert found[2].search_text("Caring for oak furniture").startswith("Caring for oak furniture. Everyday care. Dust")


def test_a_long_section_is_cut_at_paragraphs_and_markdown_is_taken_out() -> None:
    paragraph = " ".join(["word"] * 70) + "."
    body = f"## Long\n{paragraph}\n\n**Bold** and [a link](https://x.test) and\n\n- a list item\n\n{paragraph}"
    found = passages(Article("long", "Long", "Short.", body))
    sections = [p for p in found if p.kind == "section"]
    assert len(sections) == 2, [len(p.text.split()) for p in sections]
    assert "Bold and a link and a list item" in sections[0].text + sections[1].text
    assert "**" not in "".join(p.text for p in sections) and "https://" not in "".join(p.text for p in sections)


def test_the_short_answer_ends_at_a_sentence_within_the_limit() -> None:
    text = "First sentence here. Second one is a little longer. Third sentence goes past the limit for sure."
    passage = Passage("x", 1, "h", text)
    assert short_answer(passage, limit=60) == "First sentence here. Second one is a little longer."
    assert short_answer(Passage("x", 1, "h", "Short."), limit=60) == "Short."
    assert len(short_answer(Passage("x", 1, "h", "word " * 200), limit=60)) <= 60


def test_html_shows_raw_html_as_text_and_drops_script_links() -> None:
    html = to_html("## Title\n<script>alert(1)</script>\n\n[click](javascript:alert(1)) [ok](/help/x)")
    assert "<h2>Title</h2>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html and 'href="/help/x"' in html


# ---- search -------------------------------------------------------------------------------------------------


def test_terms_are_stems_without_stop_words() -> None:
    assert terms("Can't I return the cushions I've bought?") == ["return", "cushion", "bought"]
    assert terms("Delivering deliveries") == ["deliv", "deliveri"]


def index_of(texts: list[str], vectors: np.ndarray) -> SearchIndex:
    entries = [Entry(Passage(f"a{i}", 0, "", t, "summary"), f"A{i}") for i, t in enumerate(texts)]
    return SearchIndex(entries, vectors)


def test_bm25_is_scaled_by_what_the_question_could_score() -> None:
    index = index_of(["oak table care oil", "gift card balance", "delivery days cost"], np.eye(3, dtype=np.float32))
    full = index.lexical("oak oil")
    assert full.argmax() == 0 and 0 < full[0] <= 1 and full[1] == full[2] == 0
    # a word no passage has counts against the match: "mattress" makes the same words score lower
    assert index.lexical("oak oil mattress")[0] < full[0]
    assert not index.lexical("mattress topper").any()


def test_the_hybrid_ranks_articles_by_their_best_passage_and_quotes_a_section(monkeypatch) -> None:
    entries = [
        Entry(Passage("oak", 0, "Oak", "Oil oak twice a year.", "summary"), "Oak"),
        Entry(Passage("oak", 1, "Rings", "Press a white ring with a warm iron.", "section"), "Oak"),
        Entry(Passage("oak", 2, "", "white ring on my table", "question"), "Oak"),
        Entry(Passage("gift", 0, "Gift", "E-gift cards from £10.", "summary"), "Gift"),
    ]
    vectors = np.array([[1, 0, 0], [0.6, 0.8, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    hits = SearchIndex(entries, vectors).search("white ring", np.array([0, 1, 0], dtype=np.float32))
    assert [h.slug for h in hits] == ["oak", "gift"]
    assert hits[0].passage.kind == "section" and hits[0].passage.heading == "Rings"  # a question is never quoted
    assert hits[0].dense == pytest.approx(1.0) and hits[0].score > hits[1].score
    assert hits[0].unseen == 0 and hits[0].confidence == hits[0].score
    monkeypatch.setattr(search, "ANSWER_THRESHOLD", hits[0].score + 0.01)
    assert not hits[0].confident


def test_an_empty_help_centre_finds_nothing() -> None:
    assert SearchIndex([], np.zeros((0, 384), dtype=np.float32)).search("anything", np.ones(384)) == []


# ---- the store ----------------------------------------------------------------------------------------------


def test_saving_embeds_new_text_only_and_moves_the_revision() -> None:
    k = memory_knowledge(with_articles=False)
    oak = parse(OAK_CARE)
    first = k.store.save(oak)
    assert (first.result, first.embedded) == ("created", len(passages(oak)))
    revision = k.store.revision()
    assert k.store.save(oak).result == "unchanged" and k.store.revision() == revision
    edited = Article(**{**oak.__dict__, "body": oak.body.replace("a few seconds", "five seconds")})
    again = k.store.save(edited)
    assert (again.result, again.embedded) == ("updated", 1)  # the one section changed
    assert k.store.revision() == revision + 1
    assert k.store.get("caring-for-oak") == edited


def test_only_published_articles_are_searched_and_a_status_change_reaches_the_index() -> None:
    k = memory_knowledge()
    assert {h.slug for h in k.search("gift card voucher")[1]} >= {"gift-cards"}
    rebuilds = k.index.rebuilds
    k.store.set_status("gift-cards", "unpublished", by="admin")
    assert "gift-cards" not in {h.slug for h in k.search("gift card voucher")[1]}
    assert k.index.rebuilds == rebuilds + 1
    k.search("anything else")
    assert k.index.rebuilds == rebuilds + 1  # no change, no rebuild
    assert [a.slug for a in k.store.listing(status="unpublished")] == ["gift-cards"]


def test_listing_finds_words_in_titles_and_text() -> None:
    k = memory_knowledge()
    assert [a.slug for a in k.store.listing("IRON")] == ["caring-for-oak"]
    assert {a.slug for a in k.store.listing("")} == {"gift-cards", "caring-for-oak", "delivery-options"}


def test_an_import_reports_broken_files_and_a_fresh_database_reuses_the_cached_embeddings(tmp_path: Path) -> None:
    source = tmp_path / "articles"
    source.mkdir()
    for text in (GIFT_CARDS, DELIVERY):
        article = parse(text)
        (source / f"{article.slug}.md").write_text(text)
    (source / "broken.md").write_text("no front matter")
    (source / "other-name.md").write_text(OAK_CARE)
    cache = tmp_path / "cache"
    first = memory_knowledge(with_articles=False)
    first.store._cache_dir = cache
    report = first.store.import_directory(source)
    assert sorted(report.created) == ["delivery-options", "gift-cards"]
    assert dict(report.errors).keys() == {"broken.md", "other-name.md"}
    assert "front matter" in dict(report.errors)["broken.md"] and "file name" in dict(report.errors)["other-name.md"]
    assert report.embedded > 0 and len(list(cache.glob("knowledge-*.npz"))) == 1
    second = memory_knowledge(with_articles=False)
    second.store._cache_dir = cache
    again = second.store.import_directory(source)
    assert sorted(again.created) == ["delivery-options", "gift-cards"] and again.embedded == 0
    assert second.store.fingerprint() == first.store.fingerprint()
    exported = first.store.export_directory(tmp_path / "out")
    assert sorted(p.name for p in exported) == ["delivery-options.md", "gift-cards.md"]
    assert parse(exported[1].read_text()) == parse(GIFT_CARDS)


def test_embeddings_of_another_encoder_are_made_again() -> None:
    k = memory_knowledge()
    k.store._encoder = "another-encoder"
    remade = k.store.refresh_embeddings()
    assert remade == sum(len(passages(a)) for a in articles())
    assert k.store.refresh_embeddings() == 0
    k.store._encoder = ENCODER_FINGERPRINT


# ---- the service --------------------------------------------------------------------------------------------


def test_a_question_it_covers_is_answered_with_the_link_and_recorded(knowledge) -> None:
    answer = knowledge.answer("do u sell gift cards", sender_id="s1", channel="web")
    assert answer.answered and answer.slug == "gift-cards" and answer.url == "http://shop.test/help/gift-cards"
    assert answer.text and "£10" in answer.text and answer.question_id
    assert knowledge.feedback(answer.question_id, False)
    asked = knowledge.store.questions(dt.datetime(2000, 1, 1), gaps_only=True)
    assert [(q.text, q.answered, q.helpful) for q in asked] == [("do u sell gift cards", True, False)]


def test_a_question_nothing_covers_is_not_answered(knowledge) -> None:
    answer = knowledge.answer("who will win the football league this year", sender_id="s2", channel="web")
    assert not answer.answered and answer.text is None and answer.question_id


def test_the_faq_pick_is_answered_only_when_its_article_matches(knowledge) -> None:
    _, agreed, _ = knowledge.decide("how much does delivery cost", "shipping_costs")
    assert agreed.answered and agreed.via == "faq" and agreed.slug == "delivery-options"
    assert agreed.text == parse(DELIVERY).summary
    _, overruled, _ = knowledge.decide("do you sell gift vouchers?", "shipping_costs")
    assert overruled.slug == "gift-cards" and overruled.via == "search"


def test_an_agents_answer_becomes_a_draft_that_is_not_searched(knowledge) -> None:
    question = "Can I collect from your warehouse?"
    saved = knowledge.propose(question, "No, we deliver only.", conversation="c1", agent="sam")
    assert saved.result == "created" and saved.slug == "can-i-collect-from-your-warehouse"
    info = knowledge.store.info(saved.slug)
    assert info and (info.status, info.source, info.proposed_from, info.updated_by) == ("draft", "agent", "c1", "sam")
    again = knowledge.propose(question, "Still no.", conversation="c2", agent="sam")
    assert again.slug == "can-i-collect-from-your-warehouse-2"
    assert saved.slug not in {e.passage.slug for e in knowledge.index.current().entries}


def test_gaps_group_questions_alike_in_meaning(knowledge) -> None:
    from knowledge.encoder import encoder

    texts = ["do you have a shop in leeds", "is there a store i can visit in leeds", "can i pay in bitcoin"]
    vectors = encoder().encode(texts)
    asked = [
        AskedQuestion(i, dt.datetime(2026, 12, 1, 10, i), f"s{i}", t, v, False, None, None)
        for i, (t, v) in enumerate(zip(texts, vectors, strict=True))
    ]
    gaps = group(asked)
    assert [g.count for g in gaps] == [2, 1]
    assert {e.text for e in gaps[0].examples} == set(texts[:2]) and gaps[1].label == "can i pay in bitcoin"
    assert group([]) == []


def test_an_empty_help_centre_answers_nothing() -> None:
    _, answer, best = memory_knowledge(with_articles=False).decide("do you sell gift cards?")
    assert not answer.answered and best is None


def test_the_action_servers_encoder_matches_the_reference_implementation() -> None:
    """The NLU's int8 model, with Hugging Face's word pieces: the ids sentence-transformers produced and, within
    int8's rounding, its float embeddings (tests/fixtures/minilm_reference.json)."""
    import json

    from knowledge.encoder import encoder

    reference = json.loads((Path(__file__).parents[1] / "fixtures" / "minilm_reference.json").read_text())
    assert encoder().token_ids(reference["texts"]) == reference["token_ids"]
    vectors = encoder().encode(reference["texts"])
    expected = np.array(reference["embeddings"], dtype=np.float32)
    cosines = (vectors * expected).sum(axis=1) / np.linalg.norm(expected, axis=1)
    assert float(cosines.min()) > 0.97
    # and each text is nearest its own reference vector, not a neighbour's
    assert ((vectors @ expected.T).argmax(axis=1) == np.arange(len(vectors))).all()


def test_the_figures_count_answers_helpfulness_and_deflection_by_article() -> None:
    k = memory_knowledge()
    ask = lambda text, channel="web": k.answer(text, sender_id="s", channel=channel)  # noqa: E731
    helped = ask("do you sell gift vouchers")
    failed = ask("can i buy someone a gift card for their birthday")
    handed = ask("do u sell gift cards", "rest")
    ask("who will win the football league this year")
    k.feedback(helped.question_id or 0, True)
    k.feedback(failed.question_id or 0, False)
    k.handed_off(handed.question_id or 0)
    figures = k.store.figures(dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1))
    assert (figures.questions, figures.answered, figures.unanswered) == (4, 3, 1)
    assert (figures.helpful, figures.not_helpful, figures.handed_off_after_answer) == (1, 1, 1)
    assert figures.helpfulness == 0.5 and figures.deflection == pytest.approx(1 / 3)
    [gift] = figures.by_article
    assert (gift.slug, gift.answers, gift.deflected) == ("gift-cards", 3, 1)
    on_rest = k.store.figures(dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1), channel="rest")
    assert (on_rest.questions, on_rest.answered) == (1, 1)
