"""`cardgen validate`: the bundled cards are clean; every single mutation is caught at its node."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import BUNDLED, CARDS, REPO, edit, line_of, seed_text

B7 = "stabilityai/StableBeluga-7B/card.yaml"
B2 = "stabilityai/StableBeluga2/card.yaml"
LM = "stabilityai/stablelm-tuned-alpha/card.yaml"
GPTQ = "TheBloke/StableBeluga2-70B-GPTQ/card.yaml"


def test_bundled_cards_are_clean(cli):
    r = cli("validate", CARDS)
    assert r.code == 0, r.text
    assert "error" not in r.out
    assert f"{BUNDLED} cards: 0 errors" in r.err


# (file, old text, new text, code, text on the reported line)
MUTATIONS = [
    (B7, "parameters: 7B\n", "parameters: 7B\nparameters: 8B\n", "CG005", "parameters: 8B"),
    (B7, "model_type: llama", "modle_type: llama", "CG102", "modle_type"),
    (B7, "language: [en]", "language: 5", "CG101", "language: 5"),
    (B7, "library_name: transformers", "library_name: 3", "CG101", "library_name: 3"),
    (B7, "license: stable-beluga-nc", "license: apache-3.0", "CG201", "license: apache-3.0"),
    (B7, "language: [en]", "language: [en, english]", "CG205", "language: [en, english]"),
    (B7, "language: [en]", "language: [en, english]", "CG205", "language: [en, english]"),
    (B7, "repo_id: stabilityai/StableBeluga-7B", "repo_id: stabilityai/Stable--Beluga", "CG206", "repo_id:"),
    (B7, "base_model: meta-llama/Llama-2-7b-hf", "base_model: meta-llama/Llama 2", "CG206", "base_model:"),
    (B7, "datasets: [cot-submix,", "datasets: [bad..id,", "CG207", "datasets:"),
    (B7, "base_model_relation: finetune", "base_model_relation: fine-tune", "CG210", "base_model_relation"),
    (B7, "citations: [llama2, orca]", "citations: [llama2, orcaa]", "CG301", "citations:"),
    (B7, "creator: stability-ai", "creator: stability", "CG301", "creator:"),
    (B7, "training: beluga-orca", "training: beluga-orka", "CG301", "training:"),
    (GPTQ, "extends: stabilityai/StableBeluga2", "extends: stabilityai/StableBeluga3", "CG302", "extends:"),
    (B7, "{prompt}\\n\\n### Assistant", "{prompt}\\n{history}\\n### Assistant", "CG401", "template:"),
    (B7, "  example:\n    system_message", "  example:\n    sys_message", "CG401", "sys_message"),
    (LM, "  - repo_id: stabilityai/stablelm-tuned-alpha-3b", "  - repo_id: stabilityai/StableBeluga-7B", "CG307",
     "repo_id: stabilityai/StableBeluga-7B"),
    (B2, "    after: prompt_format", "    after: prompt-format", "CG308", "after: prompt-format"),
    (LM, "  stop_token_ids: [50278,", "  stop_token_ids: [-5,", "CG403", "stop_token_ids"),
]


@pytest.mark.parametrize("rel,old,new,code,needle", MUTATIONS, ids=[f"{m[3]}-{i}" for i, m in enumerate(MUTATIONS)])
def test_each_mutation_is_reported_at_its_node(cli, cards, rel, old, new, code, needle):
    path = cards / rel
    edit(path, old, new)
    r = cli("validate", cards)
    assert r.code == 1, r.text
    assert "Traceback" not in r.text
    line = line_of(path, needle)
    shown = re.escape(str(Path(path).relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path))
    assert re.search(rf"{shown}:{line}:\d+: {code} ", r.out), r.out


@pytest.mark.parametrize("old,new,code", [
    ("pipeline_tag: text-generation", "pipeline_tag: text-generator", "CG203"),
    ("library_name: transformers", "library_name: transformer", "CG204"),
])
def test_an_unknown_task_or_library_is_a_warning_at_its_node(cli, cards, old, new, code):
    edit(cards / B7, old, new)
    r = cli("validate", cards)
    assert r.code == 0, r.text  # the Hub accepts it, but files the model under no task or library
    line = line_of(cards / B7, new.split(":")[0])
    assert re.search(rf"card.yaml:{line}:\d+: {code} warning: ", r.out), r.out
    assert cli("validate", "--strict", cards).code == 1


def test_unknown_key_suggests_the_right_one(cli, cards):
    edit(cards / B7, "pipeline_tag:", "licence: mit\npipeline_tag:")
    r = cli("validate", cards)
    assert "CG102 unknown key 'licence'; did you mean 'license'?" in r.out


def test_all_problems_are_reported_at_once(cli, cards):
    p = cards / B7
    edit(p, "model_type: llama", "model_type: [llama]")  # schema error
    edit(p, "pipeline_tag: text-generation", "pipeline_tag: text-generaton")  # vocabulary
    edit(p, "citations: [llama2, orca]", "citations: [llama2, orcaa]")  # reference
    r = cli("validate", cards)
    codes = re.findall(r": (CG\d+) ", r.out)
    assert {"CG101", "CG203", "CG301"} <= set(codes), r.out
    assert "(did you mean `text-generation`?)" in r.out


def test_dangling_shared_reference_in_shared_file_points_at_shared_entry(cli, cards):
    edit(cards / "_shared/licenses.yaml", "    id: other", "    id: stable-beluga")
    r = cli("validate", cards)
    line = line_of(cards / "_shared/licenses.yaml", "id: stable-beluga")
    assert re.search(rf"licenses.yaml:{line}:\d+: CG201 ", r.out), r.out


def test_other_licence_needs_name_and_link(cli, cards):
    edit(cards / "_shared/licenses.yaml", "    name: stable-beluga-non-commercial-community-license\n", "")
    r = cli("validate", cards)
    assert r.code == 0 and "CG202 warning: license `other` needs `license_name`" in r.out


def test_inheritance_cycle(cli, cards):
    edit(cards / B2, "repo_id: stabilityai/StableBeluga2\n",
         "repo_id: stabilityai/StableBeluga2\nextends: TheBloke/StableBeluga2-70B-GPTQ\n")
    r = cli("validate", cards)
    assert r.code == 1 and "CG303 inheritance cycle" in r.out
    assert "Traceback" not in r.text


def test_duplicate_shared_ids_and_citation_keys(cli, cards):
    (cards / "_shared/more.yaml").write_text(
        "citations:\n  orca:\n    key: other\n  llama-again:\n    key: touvron2023llama\n", "utf-8")
    r = cli("validate", cards)
    assert "more.yaml:2:3: CG305 citations id 'orca' is already defined" in r.out
    assert "more.yaml:5:10: CG306 citation key 'touvron2023llama'" in r.out


def test_unused_placeholder_is_a_warning_and_strict_fails(cli, cards):
    edit(cards / B7, "  example:\n", "  placeholders: {system_message: s, prompt: p, unused: u}\n  example:\n")
    r = cli("validate", cards)
    assert r.code == 0 and "CG402 warning: placeholder 'unused'" in r.out
    assert cli("validate", "--strict", cards).code == 1


def test_metadata_key_typo_is_a_warning(cli, cards):
    edit(cards / GPTQ, "inference: false\n", "inference: false\nmetadata: {quantised_by: TheBloke}\n")
    r = cli("validate", cards)
    assert r.code == 0
    line = line_of(cards / GPTQ, "quantised_by")
    assert re.search(rf":{line}:\d+: CG211 warning: metadata key 'quantised_by' looks like a typo of 'quantized_by'", r.out)


def test_licence_differing_from_base_is_a_warning(cli, cards):
    petals = cards / "petals-team/StableBeluga2/card.yaml"
    edit(petals, "tags: [petals]\n", "tags: [petals]\nlicense: llama2\n")
    r = cli("validate", cards)
    assert r.code == 0 and "CG213 warning: licence 'llama2' differs from the base card's" in r.out


def test_quantised_card_keeps_its_base_licence_unless_it_says_why(cli, cards):
    """Quantised weights are their base's weights: another licence is warned about (CG506; the Hub accepts
    it), fails with --strict, and is quiet when its statement says why."""
    edit(cards / GPTQ, "inference: false\n", "inference: false\nlicense: llama2\n")
    r = cli("validate", cards)
    assert r.code == 0 and "CG506 warning: licence 'llama2' differs from stabilityai/StableBeluga2's" in r.out
    assert "CG213" not in r.out
    assert cli("validate", "--strict", cards).code == 1
    edit(cards / GPTQ, "license: llama2\n",
         "license: {id: llama2, statement: 'Relicensed under Llama 2, as Meta allows for quantised copies.'}\n")
    r = cli("validate", cards)
    assert r.code == 0 and "CG506" not in r.out


def test_json_and_github_formats(cli, cards):
    edit(cards / B7, "language: [en]", "language: [english]")
    r = cli("validate", "--format", "json", cards)
    data = json.loads(r.out)
    errors = [d for d in data["diagnostics"] if d["severity"] == "error"]
    assert data["errors"] == 1 and errors[0]["code"] == "CG205"
    assert errors[0]["line"] == line_of(cards / B7, "language:") and errors[0]["file"].endswith("card.yaml")
    r = cli("validate", "--format", "github", cards)
    assert re.search(r"^::error file=.*card.yaml,line=\d+,col=\d+,title=CG205::", r.out, re.M), r.out


def test_single_file_is_validated_with_its_base(cli, cards):
    r = cli("validate", cards / GPTQ)
    assert r.code == 0, r.text
    edit(cards / GPTQ, "title: StableBeluga2 - GPTQ", "title: StableBeluga2 - GPTQ\nbits: 4")
    edit(cards / B7, "language: [en]", "language: [xx-bad]")  # another card's error is not reported here
    r = cli("validate", cards / GPTQ)
    assert r.code == 1 and "CG102 unknown key 'bits'" in r.out and "xx-bad" not in r.out


def test_missing_path_is_a_usage_error(cli, tmp_path):
    r = cli("validate", tmp_path / "nope")
    assert r.code == 2 and "no such file" in r.err


# -- the seeds' own metadata ----------------------------------------------------------------------
def _transcribe(front_matter: dict, repo_id: str) -> str:
    """A faithful transcription of a seed's front matter into a card source."""
    import yaml

    src = {"repo_id": repo_id}
    for k, v in front_matter.items():
        if k in ("language", "license", "pipeline_tag", "tags", "datasets", "base_model", "inference"):
            src[k] = v
        else:
            src.setdefault("metadata", {})[k] = v
    return yaml.safe_dump(src, sort_keys=False)


@pytest.mark.parametrize("key,repo,code,needle", [
    ("000", "stabilityai/StableBeluga-7B", "CG209", "repo_id"),
    ("002", "stabilityai/stablelm-tuned-alpha-7b", "CG208", "- cc-by-nc-sa-4.0"),
])
def test_seed_metadata_errors_are_reported_for_a_faithful_transcription(cli, tmp_path, key, repo, code, needle):
    import yaml

    from cardgen.frontmatter import split

    fm, _, _ = split(seed_text(key))
    folder = tmp_path / "cards" / repo
    folder.mkdir(parents=True)
    (folder / "card.yaml").write_text(_transcribe(yaml.safe_load(fm), repo), "utf-8")
    r = cli("validate", tmp_path / "cards")
    assert r.code == (0 if code == "CG209" else 1)  # no licence: the Hub accepts it, shown as unknown
    assert len(re.findall(r": CG\d+ ", r.out)) == 1, r.out  # one clear diagnostic, no cascade
    line = line_of(folder / "card.yaml", needle)
    assert re.search(rf"card.yaml:{line}:\d+: {code} ", r.out), r.out


def test_seed_readmes_front_matter_is_checked(cli, tmp_path):
    for key in ("000", "001", "002"):
        (tmp_path / f"{key}.md").write_text(seed_text(key), "utf-8")
    r = cli("validate", tmp_path / "000.md")
    assert r.code == 0  # accepted by the Hub, which shows the licence as unknown
    assert "CG209 warning: no `license` in the metadata" in r.out
    assert "STABLE BELUGA NON-COMMERCIAL COMMUNITY LICENSE AGREEMENT" in r.out  # the body names it
    r = cli("validate", tmp_path / "002.md")
    assert r.code == 0 and re.search(r"002.md:6:1: CG208 warning: `license` must be a single licence id", r.out), r.out
    r = cli("validate", tmp_path / "001.md")
    assert r.code == 0, r.out  # 001's metadata is valid as the Hub sees it, but not what its body says:
    assert re.search(r"001.md:4:1: CG212 warning: the metadata says `license: llama2` but the body names "
                     r"'STABLE BELUGA NON-COMMERCIAL COMMUNITY LICENSE AGREEMENT' \(body line \d+\)", r.out), r.out
    assert cli("validate", "--strict", tmp_path / "001.md").code == 1


@pytest.mark.parametrize("license,named", [
    ("apache-2.0", "Apache License 2.0"), ("apache-2.0", "Apache 2"), ("mit", "MIT License"),
    ("llama2", "Llama 2 Community License"), ("cc-by-nc-sa-4.0", "CC BY-NC-SA 4.0"),
    ("other", "Stable Beluga Non-Commercial Community License Agreement"),
])
def test_a_body_naming_the_same_licence_is_not_flagged(cli, tmp_path, license, named):
    extra = "license_name: stable-beluga-non-commercial\nlicense_link: LICENSE.txt\n" if license == "other" else ""
    readme = tmp_path / "README.md"
    readme.write_text(f"---\nlicense: {license}\n{extra}---\n\n# M\n\nLicensed under the [{named}](LICENSE).\n")
    r = cli("validate", readme)
    assert r.code == 0 and "CG212" not in r.out, r.out
    readme.write_text(f"---\nlicense: {license}\n{extra}---\n\n# M\n\nLicensed under the [GPL-3.0 License](LICENSE).\n")
    assert "CG212" in cli("validate", readme).out


def test_license_list_in_a_source_has_its_own_code(cli, cards):
    edit(cards / LM, "license:\n  id: cc-by-nc-sa-4.0\n", "license: [cc-by-nc-sa-4.0]\nlicense_x:\n  id: cc-by-nc-sa-4.0\n")
    r = cli("validate", cards)
    assert "CG208 license: license must be a single licence id, not a list" in r.out


def test_an_invalid_repo_id_gets_huggingface_hubs_own_complaint(cli, cards):
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    edit(cards / B7, "repo_id: stabilityai/StableBeluga-7B", "repo_id: stabilityai/Stable--Beluga-7B")
    r = cli("validate", cards / "stabilityai/StableBeluga-7B")
    with pytest.raises(HFValidationError) as hub:
        validate_repo_id("stabilityai/Stable--Beluga-7B")
    line = line_of(cards / B7, "repo_id:")
    assert r.code == 1 and f"card.yaml:{line}:10: CG206 {hub.value}" in r.out, r.out


GPTQ_CARD = "TheBloke/StableBeluga2-70B-GPTQ/card.yaml"


def test_a_free_section_anchored_to_a_slot_its_template_does_not_place_fails(cli, cards):
    # TheBloke's card.md.j2 places no `training` slot: the section would silently vanish from the README
    edit(cards / GPTQ_CARD, "sections:\n", "sections:\n  - {heading: Extra, after: training, body: text}\n")
    r = cli("validate", cards)
    line = line_of(cards / GPTQ_CARD, "heading: Extra")
    assert r.code == 1
    m = re.search(rf"{GPTQ_CARD}:{line}:\d+: CG308 after: 'training' is not placed by (\S+)card.md.j2.*"
                  r"anchors there: (.*)$", r.out, re.M)
    assert m, r.out
    assert m.group(1).endswith("TheBloke/_templates/")
    assert m.group(2) == "header, title, description, prompt_format, variants, usage, footer, base_card, repositories"
    assert cli("render", "--out", cards.parent / "out", cards).code == 1  # and render refuses it too


def test_the_same_anchor_is_fine_where_the_template_places_it(cli, cards):
    edit(cards / B7, "sections: [stable-chat, beluga-ethics]",
         "sections: [stable-chat, beluga-ethics, {heading: Extra, after: training, body: text}]")
    r = cli("validate", cards / "stabilityai/StableBeluga-7B")
    assert r.code == 0, r.out
    out = cards.parent / "out"
    assert cli("render", "--out", out, cards / "stabilityai/StableBeluga-7B").code == 0
    text = (out / "stabilityai/StableBeluga-7B/README.md").read_text()
    assert text.index("### Training Procedure") < text.index("## Extra\n\ntext") < text.index("## Citations")


@pytest.mark.parametrize("text", [
    "---\nlicense: mit\n--- \n\n# M\n",  # a trailing space after the closing dashes
    "\n\n---\nlicense: mit\n---\n\n# M\n",  # blank lines before the block
    "---\r\nlicense: mit\r\n---\r\n\r\n# M\r\n",  # CRLF
    "---\nlicense: mit\n---\t\n# M\n",
])
def test_front_matter_is_split_as_huggingface_hub_splits_it(cli, tmp_path, text):
    from huggingface_hub import ModelCard

    from cardgen.frontmatter import split

    assert ModelCard(text, ignore_metadata_errors=True).data.to_dict() == {"license": "mit"}
    block, body, first = split(text)
    assert block is not None and yaml_load(block) == {"license": "mit"} and "# M" in body
    readme = tmp_path / "README.md"
    readme.write_bytes(text.encode())
    r = cli("validate", readme)
    assert r.code == 0 and "CG209" not in r.out, r.out


def yaml_load(text: str) -> object:
    import yaml

    return yaml.safe_load(text)


def test_the_front_matter_rule_is_huggingface_hubs_own():
    from huggingface_hub.repocard import REGEX_YAML_BLOCK

    from cardgen.frontmatter import yaml_block

    assert yaml_block().pattern == REGEX_YAML_BLOCK.pattern and yaml_block().flags == REGEX_YAML_BLOCK.flags


def test_a_shared_source_named_alone_checks_every_card_that_may_use_it(cli, cards):
    # what the pre-commit hook passes when a commit touches only cards/_shared/
    r = cli("validate", cards / "_shared/citations.yaml")
    assert r.code == 0 and f"{BUNDLED} cards:" in r.err and "CG102" not in r.out, r.text
    edit(cards / "_shared/citations.yaml", "    key: touvron2023llama\n", "    kee: touvron2023llama\n")
    r = cli("validate", cards / "_shared/citations.yaml")
    assert r.code == 1 and "CG102 unknown key 'kee'" in r.out


# -- links: every URL field a card can write keeps to http(s), mailto (body links) or a relative path ----------
SENT = "cardgen-examples/tiny-sentiment/card.yaml"
SENT_URL = 'source_url: "https://huggingface.co/cardgen-examples/tiny-sentiment"}'
# (file, old text, new text, text on the reported line, how the message names the field, the scheme)
LINKS = [
    (B7, "license: stable-beluga-nc", 'license: {id: other, name: x, link: "javascript:alert(1)"}', "license:",
     "`license_link`", "javascript"),
    ("_shared/licenses.yaml", "link: LICENSE.txt", 'link: " JavaScript:alert(1)"', "JavaScript", "`license_link`",
     "javascript"),
    ("_shared/licenses.yaml", "url: https://huggingface.co/{repo_id}/blob/main/LICENSE.txt",
     'url: "java\\tscript:alert(1)"', "java\\tscript", "the licence's `url`", "javascript"),
    ("_shared/orgs.yaml", "url: https://stability.ai/", "url: vbscript:msgbox", "vbscript", "the organisation's `url`",
     "vbscript"),
    (B7, "creator: stability-ai", 'creator: {name: S, url: "data:text/html,<script>alert(1)</script>"}', "creator:",
     "the organisation's `url`", "data"),
    ("_shared/datasets.yaml", "url: https://github.com/databrickslabs/dolly", "url: file:///etc/passwd", "file:",
     "the dataset's `url`", "file"),
    ("_shared/beluga.yaml", "    optimizer: AdamW\n",
     '    optimizer: AdamW\n    datasets: {intro: "On:", items: [{name: D, url: "javascript:alert(1)"}]}\n',
     "items:", "the dataset's `url`", "javascript"),
    (GPTQ, "dataset: wikitext, seq_len: 4096, size: 40.66 GB", 'dataset: {name: W, url: "javascript:alert(1)"}, '
     "seq_len: 4096, size: 40.66 GB", "dataset: {name: W", "the dataset's `url`", "javascript"),
    ("_shared/citations.yaml", "url: https://vicuna.lmsys.org", 'url: "javascript:alert(1)"', "javascript",
     "the citation's `url`", "javascript"),
    (B2, "cite_as: [stable-beluga]", 'cite_as: [{key: k, title: T, url: "javascript:alert(1)"}]', "cite_as:",
     "the citation's `url`", "javascript"),
    (SENT, SENT_URL, 'source_url: "javascript:alert(1)"}', "javascript", "the evaluation result's source URL",
     "javascript"),
    (SENT, f"metric_value: 0.915,\n     source_name: cardgen-examples evaluation, {SENT_URL}",  # grouped in one result
     'metric_value: 0.915,\n     source_name: e, source_url: "javascript:alert(1)"}', "javascript",
     "the evaluation result's source URL", "javascript"),
    (SENT, "{text: The service was slow and bad., example_title: Negative}", '{text: x, src: "javascript:alert(1)"}',
     "javascript", "`widget[1].src`", "javascript"),
    (SENT, "widget:\n", 'metadata: {thumbnail: "javascript:alert(1)"}\nwidget:\n', "thumbnail", "`thumbnail`",
     "javascript"),
]


@pytest.mark.parametrize("rel,old,new,needle,label,scheme", LINKS, ids=[f"{m[4]}-{i}" for i, m in enumerate(LINKS)])
def test_a_script_link_in_any_url_field_is_refused_at_its_node(cli, cards, rel, old, new, needle, label, scheme):
    path = cards / rel
    edit(path, old, new)
    r = cli("validate", cards)
    assert r.code == 1, r.text
    line = line_of(path, needle)
    found = re.findall(rf"{re.escape(path.name)}:{line}:\d+: CG222 {re.escape(label)} is a `{scheme}:` link: the Hub "
                       r"(?:shows it as a link|loads it[^,]*), and (.*)", r.out)
    assert len(found) == 1, r.out  # once, though a shared entry is checked by each card using it and on its own
    assert scheme in found[0]


def test_every_url_field_of_the_card_format_is_checked():
    """A URL field added to the format must be added to LINKS (and to the rule)."""
    from pydantic import BaseModel

    from cardgen.schema import CardSource, SharedSource

    def fields(model, seen):
        for f in model.model_fields.values():
            for t in [f.annotation, *getattr(f.annotation, "__args__", ())]:
                for sub in [t, *getattr(t, "__args__", ())]:
                    if isinstance(sub, type) and issubclass(sub, BaseModel) and sub not in seen:
                        seen.add(sub)
                        fields(sub, seen)
        return seen

    url_fields = {(m.__name__, n) for m in fields(CardSource, {CardSource}) | fields(SharedSource, {SharedSource})
                  for n in m.model_fields if re.search(r"url|link|src|href|uri", n)}
    assert url_fields == {("Org", "url"), ("License", "link"), ("License", "url"), ("Dataset", "url"),
                          ("Citation", "url"), ("EvalResult", "source_url"), ("WidgetExample", "src")}
    covered = {label for *_, label, _ in LINKS}
    assert {"`license_link`", "the licence's `url`", "the organisation's `url`", "the dataset's `url`",
            "the citation's `url`", "the evaluation result's source URL", "`widget[1].src`", "`thumbnail`"} <= covered


@pytest.mark.parametrize("front,bad", [
    ("license: other\nlicense_name: x\nlicense_link: javascript:alert(1)\n", "`license_link` is a `javascript:` link"),
    ("license: mit\nthumbnail: 'data:image/svg+xml,<svg onload=alert(1)>'\n", "`thumbnail` is a `data:` link"),
    ("license: mit\nwidget:\n- {text: a, src: 'vbscript:x'}\n", "`widget[0].src` is a `vbscript:` link"),
    ("license: mit\nmodel-index:\n- name: m\n  results:\n  - task: {type: t}\n    dataset: {type: d, name: D}\n"
     "    metrics: [{type: acc, value: 1}]\n    source: {name: s, url: 'javascript:alert(1)'}\n",
     "the evaluation result's source URL is a `javascript:` link"),
    ("license: other\nlicense_name: x\nlicense_link: LICENSE\n", None),  # the Hub links a file of the repository
    ("license: other\nlicense_name: x\nlicense_link: ./LICENSE.md\n", None),
    ("license: other\nlicense_name: x\nlicense_link: https://example.com/licence\n", None),
    ("license: mit\nthumbnail: //example.com/x.png\n", None),  # scheme-relative: the page's https
])
def test_a_published_readmes_front_matter_links_are_checked(cli, tmp_path, front, bad):
    (tmp_path / "README.md").write_text(f"---\n{front}---\n\n# M\n", "utf-8")
    r = cli("validate", tmp_path / "README.md")
    if bad is None:
        assert "CG222" not in r.out and r.code == 0, r.out
    else:
        assert f"CG222 {bad}: the Hub" in r.out and r.code == 1, r.out
        assert "CG202" not in r.out  # not also "must be a URL or LICENSE"


def test_mailto_and_relative_links_are_fine_in_the_body(cli, cards):
    edit(cards / "_shared/orgs.yaml", "url: https://stability.ai/", "url: mailto:lm@stability.ai")
    edit(cards / "_shared/datasets.yaml", "url: https://github.com/databrickslabs/dolly", "url: docs/dolly.md")
    r = cli("validate", cards)
    assert r.code == 0 and "CG222" not in r.out, r.out


# -- READMEs the audit crashed cardgen with (internal errors, exit 3) -----------------------------------
@pytest.mark.parametrize("data", [
    b"| a | b |\r|---|---|\r|1|\r",  # 24 bytes: a table whose lines end in a lone CR
    b"|a|b|\r|-|-|\r\n|1|2|3|\n\r",
    b"---\nlicense: mit\n---\n# T\r\r```\rx\r```\r\r|a|\r|-|\r|1|2|\r",
])
def test_a_readme_with_lone_cr_line_ends_is_linted_not_crashed_on(cli, tmp_path, data):
    readme = tmp_path / "README.md"
    readme.write_bytes(data)
    r = cli("validate", readme)
    assert r.code == 0 and "internal error" not in r.text, r.text
    assert "CG702 warning: table row has" in r.out, r.out  # the row with the wrong count, found as the Hub shows it


def test_a_lone_cr_counts_as_a_line_end_in_a_diagnostics_line(cli, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_bytes(b"---\nlicense: mit\n---\n# T\r\r|a|b|\r|-|-|\r|1|2|3|\r\r```\rx\r")
    r = cli("validate", readme)
    assert r.code == 0, r.text
    assert f"{readme}:8:1: CG702" in r.out and f"{readme}:10:1: CG703" in r.out, r.out


@pytest.mark.parametrize("line", ["x: !!bool maybe", "x: " + "9" * 4301, "x: 0x" + "f" * 4000, "1: 0b" + "1" * 15000,
                                  "x: 1" + ":59" * 3000])
def test_hostile_front_matter_in_a_committed_readme_is_a_difference(cli, cards, tmp_path, line):
    import shutil

    shutil.copytree(REPO / "rendered", tmp_path / "rendered")
    readme = tmp_path / "rendered" / "stabilityai/StableBeluga-7B/README.md"
    readme.write_text(readme.read_text("utf-8").replace("---\n", f"---\n{line}\n", 1), "utf-8")
    for fmt in ("text", "json"):
        r = cli("check", cards, "--out", tmp_path / "rendered", "--format", fmt)
        assert r.code == 1 and "CG708" in r.out and "internal error" not in r.text, r.text
    r = cli("diff", cards, "--out", tmp_path / "rendered", "--format", "json")
    assert r.code == 0, r.text
    [drifted] = json.loads(r.out)["results"]
    assert [c["key"] for c in drifted["front_matter"]] == [line.split(":")[0]]  # as the text written, not a number
    assert drifted["front_matter"][0]["old"] == line.split(": ", 1)[1].removeprefix("!!bool ")


def test_a_nan_in_a_committed_front_matter_keeps_the_json_report_json(cli, cards, tmp_path):
    """`.nan` and `.inf` are YAML floats JSON cannot hold: the report writes them as their YAML spelling (a
    strict parser reads it), and the same `.nan` on both sides is no front-matter change."""
    import json
    import shutil

    from conftest import REPO

    out = tmp_path / "rendered"
    shutil.copytree(REPO / "rendered", out)
    readme = out / "stabilityai/StableBeluga-7B/README.md"
    readme.write_text(readme.read_text().replace("---\n", "---\nscore: .nan\nbest: -.inf\n", 1))
    r = cli("check", cards, "--out", out, "--format", "json")
    doc = json.loads(r.out, parse_constant=lambda c: pytest.fail(f"{c} in the JSON report"))
    [drift] = doc["results"]
    assert {c["key"]: c["old"] for c in drift["front_matter"]} == {"score": ".nan", "best": "-.inf"}


def test_a_committed_readme_over_the_size_bound_is_read_to_it_and_differs(cli, cards, tmp_path):
    import shutil

    from conftest import REPO

    out = tmp_path / "rendered"
    shutil.copytree(REPO / "rendered", out)
    readme = out / "stabilityai/StableBeluga-7B/README.md"
    readme.write_text(readme.read_text() + "x" * (3 * 1024 * 1024))
    r = cli("diff", cards, "--out", out)
    assert r.code == 0 and "[cardgen: not read past 2,097,152 bytes]" in r.out, r.text[-500:]


# -- the publisher's gate: --strict on every command that reports diagnostics, and the policy

def test_strict_passes_the_bundled_cards_and_fails_a_placeholder_or_a_task_typo(cli, cards):
    r = cli("validate", "--strict", CARDS)
    assert r.code == 0 and "0 errors, 0 warnings" in r.err, r.text  # the examples are clean under the gate
    edit(cards / B7, 'description: "`{name}` is', 'description: "TODO: `{name}` is')
    r = cli("validate", "--strict", cards)
    assert r.code == 1 and "CG410 warning: placeholder left in `description`" in r.out
    assert "--strict: 1 warning fails this run" in r.err
    assert cli("validate", cards).code == 0  # without the gate a warning passes
    edit(cards / B7, 'description: "TODO: `{name}` is', 'description: "`{name}` is')
    edit(cards / B7, "pipeline_tag: text-generation", "pipeline_tag: text-generaton")
    r = cli("validate", "--strict", cards)
    assert r.code == 1 and "CG203 warning" in r.out and "(did you mean `text-generation`?)" in r.out


@pytest.mark.parametrize("command", [("validate",), ("render", "--out", "OUT"), ("check", "--out", "OUT"),
                                     ("diff", "--out", "OUT"), ("export", "--risks")])
def test_every_checking_command_takes_strict(cli, cards, tmp_path, command):
    from conftest import warned

    warned(cards)
    args = [str(tmp_path / "out") if a == "OUT" else a for a in command]
    cli("render", "--out", tmp_path / "out", cards)  # check and diff compare with READMEs that are current
    assert cli(*args, cards).code == 0
    r = cli(*args, "--strict", cards)
    assert r.code == 1 and "--strict: 2 warnings fail this run" in r.text, r.text


def test_import_takes_strict(cli, tmp_path):
    (tmp_path / "README.md").write_text("---\nlicense: mit\n---\n\n# M\n\n```python\nprint(1)\n")  # a fence never closed
    args = ("import", tmp_path / "README.md", "--repo-id", "acme/a", "--out")
    r = cli(*args, tmp_path / "one")
    assert r.code == 0 and "CG801 warning" in r.out, r.text
    assert cli(*args, tmp_path / "two", "--strict").code == 1


def test_the_policy_raises_any_code_to_an_error(cli, cards, monkeypatch):
    monkeypatch.chdir(cards.parent)
    (cards.parent / "cardgen.toml").write_text('severity = { CG410 = "error", CG203 = "error", CG606 = "error" }\n')
    edit(cards / B7, 'description: "`{name}` is', 'description: "TODO: `{name}` is')
    edit(cards / B7, "pipeline_tag: text-generation", "pipeline_tag: text-generaton")
    r = cli("validate", "cards")
    assert r.code == 1
    line = line_of(cards / B7, "description:")
    assert re.search(rf"card.yaml:{line}:\d+: CG410 placeholder left", r.out), r.out  # an error: no "warning"
    assert re.search(r"card.yaml:\d+:\d+: CG203 ", r.out) and " warning" not in r.out, r.out


def test_the_policy_raises_a_code_of_any_command_to_an_error(cli, tmp_path, monkeypatch):
    (tmp_path / "README.md").write_text("---\nlicense: mit\n---\n\n# M\n\n```python\nprint(1)\n")  # a fence never closed
    monkeypatch.chdir(tmp_path)
    args = ("import", "README.md", "--repo-id", "acme/a", "--out")
    assert cli(*args, "one").code == 0
    (tmp_path / "cardgen.toml").write_text('severity = { CG801 = "error" }\n')
    r = cli(*args, "two")
    assert r.code == 1 and re.search(r"README.md:\d+:\d+: CG801 ", r.out) and "CG801 warning" not in r.out, r.out
