"""Themes: group idea vectors into clusters, name them, and keep their identity across runs.

Three pure functions (vectors, texts and ids in; labels, names and matches out):

- ``cluster``: Louvain communities over a k-nearest-neighbour graph of the (unit) vectors; the
  number of themes comes out of the modularity optimisation, nobody has to give it.
- ``name_themes``: class-based TF-IDF keywords (English and Italian stop words removed) and the
  most central member of each theme.
- ``match_themes``: new clusters matched to the old themes by member overlap (Jaccard, Hungarian
  assignment), so a theme's id survives re-clustering; splits, merges, new and retired themes are
  reported for the caller to record.

Why this algorithm (figures in docs/benchmarks.md, "Themes"; ``bench/themes_eval.py``), on
MiniLM vectors of the two labelled files:

- ARI 0.519 on BANKING77 (3,080 requests, 77 intents) and 0.187 on app reviews (479, 13 themes),
  with no idea unassigned: the best on BANKING77 of the candidates that find the number of
  themes themselves, level with the best on the app reviews (k-means with k by silhouette
  0.395 / 0.144, Ward on k-means micro-clusters cut by silhouette 0.442 / 0.192, HDBSCAN on
  PCA-30 with its outliers reassigned 0.489 / 0.142), and close to k-means *told* the true
  number (0.504 / 0.230). Silhouette keeps rising with k on these embeddings, so it over-splits;
  HDBSCAN alone (the BERTopic-style baseline) leaves 40-85% of the ideas as outliers.
- Scale: full agglomerative clustering needs an n × n matrix, and an exact k-NN graph n² dot
  products (~10 minutes at 100,000 ideas here), so past ``EXACT_LIMIT`` ideas the graph is built
  inverted-file style (``neighbour_graph``), which keeps 97-99% of the true neighbours and the
  same ARI on the real files. 100,000 synthetic ideas: 80 s (36 s of CPU) and 739 MiB peak on
  the 2 shared cores, within the 2 minutes and 2 GiB asked.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Above this many vectors the neighbour graph is approximate (inverted file over k-means
# partitions): exact search costs n² dot products, ~10 minutes at 100,000 ideas here.
EXACT_LIMIT = 20_000
# Ideas from which the clustering uses its full resolution (see ThemeClusterer.fit).
FULL_RESOLUTION_AT = 2_000

# Snowball's Italian stop-word list, plus frequent function words it lacks and common spellings
# without accents ("perche", "piu"). One- and two-letter words are dropped by the tokenizer anyway
# but are listed so that the list reads as the usual one. Not "state" (been): an English noun.
_ITALIAN = """
    ad al allo ai agli all agl alla alle con col coi da dal dallo dai dagli dall dagl dalla dalle
    di del dello dei degli dell degl della delle in nel nello nei negli nell negl nella nelle su
    sul sullo sui sugli sull sugl sulla sulle per tra fra contro io tu lui lei noi voi loro mio mia
    miei mie tuo tua tuoi tue suo sua suoi sue nostro nostra nostri nostre vostro vostra vostri
    vostre mi ti ci vi lo la li le gli ne il un uno una ma ed se perché perche anche come dov dove
    che chi cui non più piu quale quali quanto quanti quanta quante quello quelli quella quelle
    questo questi questa queste si sì tutto tutti tutta tutte ho hai ha abbiamo avete hanno abbia
    abbiate abbiano avrò avrai avrà avremo avrete avranno avrei avresti avrebbe avremmo avreste
    avrebbero avevo avevi aveva avevamo avevate avevano ebbi avesti ebbe avemmo aveste ebbero
    avessi avesse avessimo avessero avendo avuto avuta avuti avute sono sei è siamo siete sia siate
    siano sarò sarai sarà saremo sarete saranno sarei saresti sarebbe saremmo sareste sarebbero ero
    eri era eravamo eravate erano fui fosti fu fummo foste furono fossi fosse fossimo fossero
    essendo faccio fai facciamo fanno faccia facciate facciano farò farai farà faremo farete
    faranno farei faresti farebbe faremmo fareste farebbero facevo facevi faceva facevamo facevate
    facevano feci facesti fece facemmo faceste fecero facessi facesse facessimo facessero facendo
    sto stai sta stiamo stanno stia stiate stiano starò starai starà staremo starete staranno
    starei staresti starebbe staremmo stareste starebbero stavo stavi stava stavamo stavate stavano
    stetti stesti stette stemmo steste stettero stessi stesse stessimo stessero stando essere
    avere fare stare stato stata stati molto molti molta molte poi già gia ancora solo
    quando così cosi senza sempre mai ogni altro altri altra altre po dopo prima fino mentre però
    pero oppure quindi invece qui qua là lì no verso sotto sopra dentro fuori tanto troppo poco
    meno bene cosa può puo possono potrebbe vorrei voglio deve devono ecco nessuno niente nulla
    ciao grazie
"""
ITALIAN_STOP_WORDS = frozenset(_ITALIAN.split())


@dataclass
class ThemeClusterer:
    """Louvain communities of the k-nearest-neighbour graph (scikit-learn style).

    Parameters: ``n_neighbors`` edges per vector (weight: the cosine, floored at 0, to the power
    ``sharpness``: close neighbours count much more than loose ones);
    ``resolution`` of the modularity (higher: more, smaller themes); members of communities
    smaller than ``min_size`` join the theme their neighbours lead to, or stay unassigned (-1)
    when no neighbour has one; ``n_probe`` partitions searched per partition when the
    graph is approximate; ``random_state`` makes the result deterministic.
    Learned: ``labels_`` (0 = the largest theme), ``n_themes_``.

    n_neighbors=5, sharpness=3 and resolution=2.5 sit in a flat region of a sweep on both labelled
    files (k 4-6 × sharpness 1-4 × resolution 2-3, 3 seeds: BANKING77 ARI 0.51-0.56; plain
    cosine weights at resolution 2, shipped before, 0.52; resolution 1: 0.44). A higher
    resolution gives more, finer themes; on a very small portal with a few large, uniform topics
    it may cut one in two (modularity's penalty grows with a community's share of the graph).
    """

    n_neighbors: int = 5
    sharpness: float = 3.0
    resolution: float = 2.5
    min_size: int = 3
    n_probe: int = 8
    random_state: int = 0

    def fit(self, vectors: np.ndarray) -> ThemeClusterer:
        import networkx as nx

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n = len(vectors)
        labels = np.full(n, -1, dtype=np.int64)
        k = min(self.n_neighbors, n - 1)
        if k >= 1:
            neighbours, similarities = neighbour_graph(
                vectors, k, n_probe=self.n_probe, random_state=self.random_state
            )
            weights = np.maximum(similarities, 0.0) ** self.sharpness
            graph = nx.Graph()
            graph.add_nodes_from(range(n))
            graph.add_weighted_edges_from(
                zip(
                    np.repeat(np.arange(n), k).tolist(),
                    neighbours.ravel().tolist(),
                    weights.ravel().tolist(),
                    strict=True,
                )
            )
            # Modularity's penalty grows with a community's share of the graph: on a small
            # portal a high resolution cuts its few large themes in pieces, while on a large one
            # plain modularity (1.0) merges small themes (its "resolution limit"). So the
            # resolution rises from 1 to ``resolution`` as the graph grows to FULL_RESOLUTION_AT.
            resolution = 1.0 + (self.resolution - 1.0) * min(1.0, n / FULL_RESOLUTION_AT)
            labels, community = self._communities(nx, graph, resolution)
            labels = _adopt(labels, community, neighbours, weights)
        self.labels_ = labels
        self.n_themes_ = int(labels.max() + 1) if n else 0
        return self

    def _communities(self, nx: Any, graph: Any, resolution: float) -> tuple[np.ndarray, np.ndarray]:
        """Theme labels (-1 for communities under ``min_size``) and every vector's community."""
        communities = nx.community.louvain_communities(
            graph, weight="weight", resolution=resolution, seed=self.random_state
        )
        community = np.empty(graph.number_of_nodes(), dtype=np.int64)
        for index, members in enumerate(communities):
            community[list(members)] = index
        # number themes by size, ties by their first member, so the labels are reproducible
        kept = [sorted(c) for c in communities if len(c) >= self.min_size]
        kept.sort(key=lambda members: (-len(members), members[0]))
        labels = np.full(graph.number_of_nodes(), -1, dtype=np.int64)
        for label, members in enumerate(kept):
            labels[members] = label
        return labels, community

    def fit_predict(self, vectors: np.ndarray) -> np.ndarray:
        return self.fit(vectors).labels_


def _adopt(
    labels: np.ndarray, community: np.ndarray, neighbours: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Members of too-small communities join the theme their nearest neighbours' edges weigh
    most towards, when that weighs more than their edges within their own small community
    (a tight pair unlike anything else stays apart, -1). Repeated, so that a chain of strays
    next to a theme joins it too."""
    labels = labels.copy()
    while True:
        moves = {}
        for i in np.flatnonzero(labels < 0):
            own, towards = 0.0, defaultdict[int, float](float)
            for j, weight in zip(neighbours[i], weights[i], strict=True):
                if labels[j] >= 0:
                    towards[int(labels[j])] += float(weight)
                elif community[j] == community[i]:
                    own += float(weight)
            if towards:
                label = max(towards, key=towards.__getitem__)
                if towards[label] > own:
                    moves[i] = label
        if not moves:
            return labels
        for i, label in moves.items():
            labels[i] = label


def cluster(vectors: np.ndarray, **params: Any) -> np.ndarray:
    """Theme label of each vector: 0, 1, … by decreasing size; -1 (unassigned) only for vectors
    whose neighbours have no theme either. ``params``: those of ``ThemeClusterer``; see it and
    the module doc."""
    return ThemeClusterer(**params).fit_predict(vectors)


def _top_k(similarities: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    columns = np.argpartition(-similarities, k - 1, axis=1)[:, :k]
    return columns, np.take_along_axis(similarities, columns, axis=1)


def neighbour_graph(
    vectors: np.ndarray, k: int, n_probe: int = 8, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Each vector's ``k`` nearest other vectors (by dot product): (n × k) rows and scores.

    Exact up to ``EXACT_LIMIT`` vectors. Beyond, an inverted file: k-means (fitted on a sample)
    splits the vectors into ~√n partitions, and each vector is compared with the members of the
    ``n_probe`` partitions whose centres are nearest to it.
    """
    n = len(vectors)
    if n <= EXACT_LIMIT:
        neighbours = np.empty((n, k), dtype=np.int64)
        scores = np.empty((n, k), dtype=np.float32)
        for start in range(0, n, 1024):
            block = vectors[start : start + 1024] @ vectors.T
            block[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf
            neighbours[start : start + 1024], scores[start : start + 1024] = _top_k(block, k)
        return neighbours, scores

    from sklearn.cluster import MiniBatchKMeans

    n_parts = int(np.sqrt(n))
    rng = np.random.default_rng(random_state)
    sample = vectors[np.sort(rng.choice(n, min(n, 64 * n_parts), replace=False))]
    # random init: k-means++ over hundreds of centres costs more than the whole search
    centres = (
        MiniBatchKMeans(n_parts, init="random", n_init=1, batch_size=4096, random_state=0)
        .fit(sample)
        .cluster_centers_.astype(np.float32)
    )
    probes = np.empty((n, n_probe), dtype=np.int64)
    for start in range(0, n, 8192):
        similarities = vectors[start : start + 8192] @ centres.T
        probes[start : start + 8192] = np.argsort(-similarities, axis=1)[:, :n_probe]

    def by_partition(keys: np.ndarray) -> list[np.ndarray]:
        order = np.argsort(keys, kind="stable")
        bounds = np.searchsorted(keys[order], np.arange(n_parts + 1))
        return [order[bounds[p] : bounds[p + 1]] for p in range(n_parts)]

    members = by_partition(probes[:, 0])  # each vector lives in its nearest partition
    # the k best of every (vector, probed partition), merged at the end
    rows = np.zeros((n, n_probe, k), dtype=np.int64)
    best = np.full((n, n_probe, k), -np.inf, dtype=np.float32)
    for part, askers in enumerate(by_partition(probes.ravel())):
        candidates = members[part]
        if len(askers) == 0 or len(candidates) == 0:
            continue
        queries, slot = np.divmod(askers, n_probe)
        block = vectors[queries] @ vectors[candidates].T
        block[candidates[None, :] == queries[:, None]] = -np.inf  # not its own neighbour
        found = min(k, len(candidates))
        columns, top = _top_k(block, found)
        rows[queries, slot, :found], best[queries, slot, :found] = candidates[columns], top
    columns, scores = _top_k(best.reshape(n, -1), k)
    neighbours = np.take_along_axis(rows.reshape(n, -1), columns, axis=1)
    # fewer than k real candidates: a self-loop of weight 0 instead
    missing = ~np.isfinite(scores)
    neighbours[missing] = np.nonzero(missing)[0]
    scores[missing] = 0.0
    return neighbours, scores


@dataclass(frozen=True)
class ThemeName:
    keywords: list[str]  # best first
    central: int  # index (into the texts) of the member closest to the theme's mean vector


def name_themes(
    texts: Sequence[str],
    labels: Sequence[int] | np.ndarray,
    vectors: np.ndarray,
    n_keywords: int = 5,
    extra_stop_words: Collection[str] = (),
) -> dict[int, ThemeName]:
    """Keywords and central member of every theme (label -1 is skipped).

    Keywords: class-based TF-IDF (BERTopic's c-TF-IDF): a theme's term frequencies, normalised by
    its length, times log(1 + average words per theme / the term's frequency over all themes), so a
    word common to every theme ranks low. English (scikit-learn's list) and Italian
    (``ITALIAN_STOP_WORDS``) stop words are removed. The central member is the one whose vector is
    nearest the normalised mean of the theme's vectors: show its title beside the keywords.
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    labels = np.asarray(labels)
    vectors = np.asarray(vectors, dtype=np.float32)
    groups = members_of(labels)
    themes = sorted(label for label in groups if label >= 0)
    if not themes:
        return {}
    stop_words = sorted(ENGLISH_STOP_WORDS | ITALIAN_STOP_WORDS | set(extra_stop_words))
    # words of 3+ letters (no digits: amounts and ids make poor names)
    vectorizer = CountVectorizer(stop_words=stop_words, token_pattern=r"(?u)\b[^\W\d_]{3,}\b")
    documents = [" ".join(texts[int(i)] for i in groups[t]) for t in themes]
    try:
        # sparse (themes × words): dense, it would take themes × vocabulary × 8 bytes
        counts = vectorizer.fit_transform(documents).tocsr().astype(np.float64)
        terms = vectorizer.get_feature_names_out()
    except ValueError:  # nothing but stop words
        counts, terms = sparse.csr_matrix((len(themes), 0)), np.array([], dtype=str)
    counts.eliminate_zeros()
    counts.sort_indices()
    sizes = np.asarray(counts.sum(axis=1)).ravel()
    idf = np.log(1.0 + sizes.mean() / np.maximum(np.asarray(counts.sum(axis=0)).ravel(), 1.0))
    # tf × idf on the stored (non-zero) counts only, element by element as the dense form did
    rows = np.repeat(np.arange(len(themes)), np.diff(counts.indptr))
    ctfidf = counts.data / np.maximum(sizes, 1.0)[rows] * idf[counts.indices]
    names = {}
    for row, theme in enumerate(themes):
        members = groups[theme]
        mean = vectors[members].mean(axis=0)
        central = int(members[np.argmax(vectors[members] @ mean)])
        # best first, ties by column (a stable sort): words not in the theme never qualify
        span = slice(counts.indptr[row], counts.indptr[row + 1])
        columns = counts.indices[span][np.argsort(-ctfidf[span], kind="stable")[:n_keywords]]
        names[theme] = ThemeName([str(terms[j]) for j in columns], central)
    return names


def members_of(labels: Sequence[int] | np.ndarray) -> dict[int, np.ndarray]:
    """Each label's positions, in increasing order (one sort, not one scan per label)."""
    labels = np.asarray(labels)
    if not len(labels):
        return {}
    order = np.argsort(labels, kind="stable")
    values, starts = np.unique(labels[order], return_index=True)
    return {
        int(label): members
        for label, members in zip(values, np.split(order, starts[1:]), strict=True)
    }


@dataclass
class ThemeMatch:
    """How new clusters (by index) continue old themes (by id)."""

    kept: dict[int, int] = field(default_factory=dict)  # new cluster → old theme id it keeps
    created: list[int] = field(default_factory=list)  # new clusters with no predecessor
    retired: list[int] = field(default_factory=list)  # old theme ids with no successor
    splits: dict[int, list[int]] = field(default_factory=dict)  # old id → new clusters (2+)
    merges: dict[int, list[int]] = field(default_factory=dict)  # new cluster → old ids (2+)


def match_themes(
    old: Mapping[int, Collection[int]],
    new: Sequence[Collection[int]],
    min_jaccard: float = 0.2,
) -> ThemeMatch:
    """Match new clusters (lists of idea ids) to old themes ({theme id: idea ids}).

    Overlap is measured on the ideas present in both runs, so ideas submitted since (in no old
    theme) or deleted since (in no new cluster) do not count against a match. Each old theme keeps
    its id for at most one new cluster: the assignment maximising the total Jaccard (Hungarian),
    among pairs with Jaccard >= ``min_jaccard``; other new clusters are ``created``, other old
    themes ``retired``.

    A split is an old theme that more than half of each of two or more new clusters comes from; a
    merge is a new cluster that holds more than half of each of two or more old themes. Both are
    reported whether or not an id was kept, so the caller can record the history.
    """
    from scipy.optimize import linear_sum_assignment

    old_ids = list(old)
    new_sets = [set(members) for members in new]
    present = set().union(*new_sets) if new_sets else set()
    old_sets = [set(old[theme]) & present for theme in old_ids]
    known = set().union(*old_sets) if old_sets else set()
    theme_of = {idea: row for row, members in enumerate(old_sets) for idea in members}
    new_known = [members & known for members in new_sets]

    overlap = np.zeros((len(old_ids), len(new_sets)))
    for column, members in enumerate(new_known):
        for row, count in Counter(theme_of[idea] for idea in members).items():
            overlap[row, column] = count
    old_sizes = np.array([len(s) for s in old_sets], dtype=np.float64)
    new_sizes = np.array([len(s) for s in new_known], dtype=np.float64)
    union = old_sizes[:, None] + new_sizes[None, :] - overlap
    jaccard = np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)

    result = ThemeMatch()
    if overlap.size:
        rows, columns = linear_sum_assignment(jaccard, maximize=True)
        for row, column in zip(rows, columns, strict=True):
            if jaccard[row, column] >= min_jaccard:
                result.kept[int(column)] = old_ids[row]
    result.created = [c for c in range(len(new_sets)) if c not in result.kept]
    kept_ids = set(result.kept.values())
    result.retired = [theme for theme in old_ids if theme not in kept_ids]

    # whole clusters (all members, new ideas included) in the denominators: a cluster of mostly
    # new ideas did not come from a split
    all_sizes = np.array([len(s) for s in new_sets], dtype=np.float64)
    from_old = overlap > all_sizes[None, :] / 2  # most of the new cluster comes from the old theme
    holds_old = overlap > old_sizes[:, None] / 2  # most of the old theme went into the new cluster
    for row, theme in enumerate(old_ids):
        parts = np.flatnonzero(from_old[row])
        if len(parts) >= 2:
            result.splits[theme] = [int(c) for c in parts]
    for column in range(len(new_sets)):
        sources = np.flatnonzero(holds_old[:, column])
        if len(sources) >= 2:
            result.merges[column] = [old_ids[r] for r in sources]
    return result
