"""The words of the ``scorm`` package's refusals, warnings and errors, keyed by a stable key.

A raise site names its sentence (``key``) and the values to fill in (``params``), never the
words themselves (see :class:`scorm.packaging.errors.PackageError`). The English sentence is the
gettext message id: the CLI and the logs read it through :func:`english`; the web layer
(``lti_tool.web.i18n``) translates the same sentence into the reader's language with the
catalogues under ``lti_tool/translations/`` (``babel.cfg`` extracts this module).

Placeholders are ``%(name)s``. A param whose value is one of :data:`TERMS` (an English word or
phrase, such as "an AU") is translated too before it is filled in.

Framework-free and without ``lti_tool`` imports: ``scorm`` stands on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

Params = Mapping[str, object]


def N_(message: str) -> str:
    """Mark ``message`` for extraction into the gettext catalogues; returns it unchanged."""
    return message


MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        # -- refusals by code (scorm.packaging.errors; the class's own sentence)
        "package_error": N_("A course package was refused."),
        "not_a_zip": N_("The file is not a zip archive. Export the course again as a SCORM/xAPI/cmi5 zip package."),
        "empty_zip": N_("The zip archive contains no files."),
        "source_missing": N_("The package file to import does not exist or cannot be read."),
        "zip_slip": N_("A file in the package has a path that would land outside the course folder."),
        "symlink_entry": N_("The package contains a symbolic link; links are not allowed in course packages."),
        "special_file_entry": N_("The package contains a device, FIFO or socket entry; only plain files are allowed."),
        "duplicate_entry": N_("Two files in the package have the same name (ignoring upper/lower case)."),
        "encrypted_entry": N_("The package contains password-protected files; export it without a password."),
        "unsupported_compression": N_("A file in the package uses a compression method this importer does not read."),
        "corrupt_entry": N_("A file in the package is damaged (checksum or length mismatch); export it again."),
        "zip_bomb": N_("The package expands far beyond its own size (a \"zip bomb\") and was refused."),
        "package_too_large": N_("The package is larger, once unpacked, than the import size limit."),
        "too_many_entries": N_("The package contains more files than the import limit allows."),
        "manifest_missing": N_("No imsmanifest.xml, cmi5.xml or tincan.xml was found at the top level of the package."),
        "manifest_too_large": N_("The package's manifest file is larger than the manifest size limit."),
        "missing_file": N_("The manifest refers to a file that is not in the package."),
        "unsafe_url": N_(
            "The manifest points to a javascript:, data: or other non-web URL; only package files or http(s) "
            "URLs launch."
        ),
        "unsupported_standard": N_("The package follows a standard this platform does not play (such as AICC)."),
        "destination_error": N_("The content folder could not be written."),
        "xml_forbidden_dtd": N_(
            "The manifest contains a DOCTYPE declaration (DTDs and entities are refused for safety)."
        ),
        "xml_xinclude": N_(
            "The manifest uses XInclude; manifests must be self-contained (nothing is ever included or fetched)."
        ),
        "xml_malformed": N_("The manifest is not well-formed XML."),
        "invalid_manifest": N_("The manifest is well-formed XML but does not follow the packaging specification."),
        "unknown_standard": N_("The manifest's format or version could not be recognised."),
        "cmi5_invalid_id": N_("A cmi5 id is not an absolute IRI (it needs a scheme such as https:)."),
        "cmi5_duplicate_id": N_("Two cmi5 course elements share the same id."),
        "cmi5_url_param_conflict": N_("An AU url already carries a query parameter the LMS must add at launch."),
        "cmi5_relative_url": N_("An AU url is relative but the course structure was imported without a zip package."),
        "cmi5_invalid_value": N_("A cmi5 attribute has a value outside what the specification allows."),
        "cmi5_invalid_reference": N_("A cmi5 objective reference names an objective that the course does not define."),
        # -- sequencing errors by code (scorm.sequencing.errors)
        "sequencing_error": N_("The sequencing engine could not process the call."),
        "unknown_activity": N_("The activity id is not part of this activity tree."),
        "not_a_leaf": N_("Only leaf activities (SCOs/assets) report tracking data."),
        "invalid_tracking_value": N_("A tracking value reported for a SCO is outside its vocabulary or range."),
        "invalid_state": N_("The stored activity state document does not belong to this tree or is malformed."),
        "invalid_navigation_request": N_("The navigation request string is not an ``adl.nav.request`` value."),
        "invalid_prerequisites": N_("A SCORM 1.2 ``adlcp:prerequisites`` expression cannot be parsed."),
        # -- the sentences of raise sites
        "more_warnings_listed": N_(
            "%(count)s more warnings were found and not listed; fix the ones above and import again to see them."
        ),
        "imsmanifest_xml_metadata_schemaversion_scorm": N_(
            "imsmanifest.xml has no metadata/schemaversion and no SCORM namespaces, so its SCORM version "
            "cannot be told. Add <schemaversion>1.2</schemaversion> or \"2004 4th Edition\" to the manifest "
            "metadata."
        ),
        "metadata_schemaversion_which_scorm_version": N_(
            "metadata/schemaversion is \"%(version)s\", which is not a SCORM version this platform knows "
            "(\"1.2\", \"CAM 1.3\", \"2004 3rd Edition\", \"2004 4th Edition\")."
        ),
        "idref_names_entry_manifest_imsss": N_(
            "IDRef \"%(ref)s\" names no entry of the manifest's imsss:sequencingCollection."
        ),
        "parent_item_resource_elsewhere": N_(
            "item \"%(identifier)s\" has child items and also references resource \"%(ref)s\"; only items "
            "without children can be launched, so the reference was ignored (another item still launches it). "
            "Move the content into a child item of its own."
        ),
        "parent_item_resource_unreachable": N_(
            "item \"%(identifier)s\" has child items and also references resource \"%(ref)s\"; only items "
            "without children can be launched, so the reference was ignored (no other item launches it, so "
            "learners cannot open that content). Move the content into a child item of its own."
        ),
        "timelimitaction_must_one": N_("timeLimitAction \"%(raw)s\" must be one of: %(names)s."),
        "every_item_needs_identifier": N_("Every item needs an identifier."),
        "two_items_have_identifier": N_("Two items have the identifier \"%(identifier)s\"."),
        "adlcp_map_needs_targetid": N_("adlcp:map needs a targetID."),
        "identifierref_names_resource_manifest": N_("identifierref \"%(ref)s\" names no resource in this manifest."),
        "item_launches_resource_which_href": N_(
            "item \"%(identifier)s\" launches resource \"%(ref)s\", which has no href."
        ),
        "hidelmsui_must_one": N_("hideLMSUI \"%(value)s\" must be one of: %(names)s."),
        "au_has_no_url": N_("AU \"%(au_id)s\" has no <url>."),
        "root_element_coursestructure": N_("The root element of %(file)s is <%(local_name)s>, not <courseStructure>."),
        "uses_namespace_which_cmi5_course": N_(
            "%(file)s uses the namespace %(namespace)s, which is not a cmi5 course structure namespace."
        ),
        "course_element_missing": N_("%(file)s has no <course> element."),
        "contains_au_there_nothing_launch": N_("%(file)s contains no AU, so there is nothing to launch."),
        "cmi5_id_not_iri": N_(
            "The %(kind)s id \"%(value)s\" is not a fully qualified IRI. cmi5 ids must be absolute, with a "
            "scheme, e.g. \"https://example.org/courses/geology/au/1\"."
        ),
        "cmi5_id_used_twice": N_(
            "The id \"%(value)s\" is used by %(first)s and again by %(second)s. Every course, block, AU "
            "and objective needs its own id."
        ),
        "url_au_already_contains_lms": N_(
            "The url of AU \"%(id)s\" already contains %(names)s; the LMS adds these at launch. Remove them "
            "from the url in cmi5.xml."
        ),
        "au_relative_url_but_course": N_(
            "AU \"%(id)s\" has the relative url \"%(url)s\", but this course structure was imported on its "
            "own: without a zip package every url must be absolute (https://...). Import the zip package "
            "instead."
        ),
        "refers_objective_which_course_does": N_(
            "\"%(id)s\" refers to objective \"%(ref)s\", which the course does not define in its <objectives> list."
        ),
        "block_contains_au_block": N_("block \"%(id)s\" contains no AU or block."),
        "entry_resolves_outside_course_folder": N_("The entry \"%(name)s\" resolves outside the course folder."),
        "safe_folder_name_letters_digits": N_(
            "\"%(name)s\" is not a safe folder name (letters, digits, \".\", \"_\", \"-\"; max 128)."
        ),
        "cannot_create_temporary_folder": N_("Cannot create a temporary folder in \"%(root)s\": %(strerror)s."),
        "writing_course_files_failed": N_("Writing the course files failed: %(reason)s."),
        "manifest_over_limit": N_("%(file)s is %(size)s bytes; the limit is %(limit)s bytes."),
        "xml_file_but_cmi5_course": N_(
            "\"%(name)s\" is an XML file but not a cmi5 course structure; only cmi5.xml may be imported "
            "without a zip. Import the course's zip package instead."
        ),
        "content_folder_does_exist": N_("The content folder \"%(root)s\" does not exist."),
        "content_folder_already_exists": N_("The content folder \"%(final)s\" already exists."),
        "readable_zip_archive_export_course": N_(
            "\"%(name)s\" is not a readable zip archive (%(exc)s). Export the course again as a SCORM, xAPI or "
            "cmi5 zip package."
        ),
        "manifest_missing_at_root": N_(
            "The package has no imsmanifest.xml (SCORM), cmi5.xml (cmi5) or tincan.xml (xAPI) at its top "
            "level."
        ),
        "manifest_missing_nested": N_(
            "The package has no imsmanifest.xml (SCORM), cmi5.xml (cmi5) or tincan.xml (xAPI) at its top "
            "level. A manifest was found at \"%(nested)s\": zip the *contents* of that folder, so that the "
            "manifest sits at the top level of the zip."
        ),
        "root_element_which_scorm_manifest": N_(
            "%(file)s has the root element <%(name)s>, which is not a SCORM manifest, a cmi5 course structure "
            "or a tincan.xml."
        ),
        "aicc_course_aicc_supported_platform": N_(
            "this is an AICC course (it has %(names)s). AICC is not supported; this platform plays SCORM 1.2, "
            "SCORM 2004 (2nd, 3rd and 4th edition), xAPI (tincan.xml) and cmi5 packages. Export the course "
            "from its authoring tool as SCORM 2004, SCORM 1.2, xAPI or cmi5 and import that package instead."
        ),
        "names_schema_outside_package_was": N_(
            "%(file)s names the schema \"%(location)s\" outside the package. It was not fetched (manifests are "
            "never validated against remote or outside schemas); the course imported normally. Nothing to do "
            "unless your authoring tool needs it."
        ),
        "metadata_file_named_adlcp_location": N_(
            "the metadata file \"%(path)s\" named by adlcp:location is not in the package; the course imported "
            "without that metadata (titles and descriptions come from the manifest). Add the file or remove "
            "the adlcp:location element."
        ),
        "missing_file_referenced": N_(
            "The manifest refers to \"%(path)s\", but the package does not contain that file. Add the "
            "file or fix the reference, then export again."
        ),
        "missing_file_case_differs": N_(
            "The manifest refers to \"%(path)s\", but the package does not contain that file. The zip has "
            "\"%(near)s\", which differs only in upper/lower case; web servers treat these as different files. "
            "Add the file or fix the reference, then export again."
        ),
        "root_element_manifest": N_("The root element of %(file)s is <%(local_name)s>, not <manifest>."),
        "organizations_default_but_organization_identifier": N_(
            "organizations@default is \"%(default)s\", but no organization has that identifier; the first "
            "organization, \"%(identifier)s\", is delivered instead. Set default to the organization learners "
            "should get."
        ),
        "resource_launches_page_outside_package": N_(
            "resource \"%(identifier)s\" launches \"%(launch_path)s\", a page outside the package. It was "
            "imported but never fetched or checked: learners' browsers load it from that site, which must stay "
            "reachable and allow being framed. Put the page in the package if it belongs to the course."
        ),
        "resource_lists_file_outside_package": N_(
            "resource \"%(identifier)s\" lists \"%(resolved)s\", a file outside the package; it was not "
            "fetched and is not part of the imported course."
        ),
        "manifest_organizations_element_there_nothing": N_(
            "The manifest has no <organizations> element, so there is nothing to launch."
        ),
        "manifest_organization_there_nothing_launch": N_(
            "The manifest has no <organization>, so there is nothing to launch. Packages for this catalogue "
            "must be content aggregations with at least one item."
        ),
        "every_resource_needs_identifier": N_("Every resource needs an identifier."),
        "two_resources_have_identifier": N_("Two resources have the identifier \"%(identifier)s\"."),
        "file_element_needs_href": N_("A <file> element needs an href."),
        "every_organization_needs_identifier": N_("Every organization needs an identifier."),
        "dependency_names_resource_manifest": N_("dependency \"%(dep)s\" names no resource in this manifest."),
        "scormtype_must_sco_asset": N_("scormType is \"%(raw_type)s\"; it must be \"sco\" or \"asset\"."),
        "every_sequencing_entry_sequencingcollection_needs": N_(
            "Every sequencing entry in a sequencingCollection needs an ID."
        ),
        "sequencingcollection_two_entries_id": N_("sequencingCollection has two entries with ID \"%(seq_id)s\"."),
        "objective_needs_objectiveid": N_("An objective needs an objectiveID."),
        "sequencing_rule_needs_least_one": N_("A sequencing rule needs at least one ruleCondition."),
        "sequencing_rule_needs_ruleaction": N_("A sequencing rule needs a ruleAction."),
        "action_allowed_use_one": N_("action \"%(value)s\" is not allowed in a %(name)s; use one of: %(allowed)s."),
        "rollup_rule_needs_least_one": N_("A rollup rule needs at least one rollupCondition."),
        "rollup_rule_needs_rollupaction": N_("A rollup rule needs a rollupAction."),
        "mapinfo_needs_targetobjectiveid_global_objective": N_(
            "mapInfo needs a targetObjectiveID (the global objective's id)."
        ),
        "objectiveid_used_twice_same_activity": N_(
            "objectiveID \"%(objective_id)s\" is used twice in the same activity."
        ),
        "adlseq_objective_needs_objectiveid": N_("adlseq:objective needs an objectiveID."),
        "adlseq_mapinfo_needs_targetobjectiveid": N_("adlseq:mapInfo needs a targetObjectiveID."),
        "package_file_does_exist_regular": N_("The package file \"%(path)s\" does not exist or is not a regular file."),
        "root_element_tincan": N_("The root element of %(file)s is <%(local_name)s>, not <tincan>."),
        "activity_launch_element_there_nothing": N_(
            "%(file)s has no activity with a <launch> element, so there is nothing to start."
        ),
        "activity_id_must_absolute_iri": N_(
            "activity id \"%(activity_id)s\" must be an absolute IRI such as https://example.org/course/1."
        ),
        "manifest_points_url_only_files": N_(
            "The manifest points to a \"%(scheme)s:\" URL (%(value)s). Only files in the package and http(s) "
            "URLs can be launched; a javascript:, data: or file: URL could run script in the learner's session "
            "or read local files, so the package was refused. Replace it with a page in the package."
        ),
        "manifest_points_absolute_windows_style": N_(
            "The manifest points to \"%(path)s\", an absolute or Windows-style path. Paths in a package must "
            "be relative, with forward slashes."
        ),
        "manifest_points_which_outside_package": N_(
            "The manifest points to \"%(path)s\", which is outside the package."
        ),
        "value_not_boolean": N_("%(label)s is \"%(raw)s\"; it must be \"true\" or \"false\"."),
        "value_empty": N_("%(label)s is empty; leave it out to get the default, or give a value."),
        "value_not_decimal": N_(
            "%(label)s is \"%(raw)s\", which is not a decimal number (digits with an optional sign and decimal "
            "point, such as 0.8)."
        ),
        "value_out_of_bounds": N_("%(label)s is %(value)s; it must be from %(low)s to %(high)s."),
        "value_not_integer": N_("%(label)s is \"%(raw)s\", which is not a whole number."),
        "value_negative": N_("%(label)s is %(value)s; it must not be negative."),
        "value_required": N_("%(label)s is required."),
        "value_not_in_list": N_("%(label)s is \"%(raw)s\"; it must be one of: %(allowed)s."),
        "bytes_limit_bytes_manifest_large": N_(
            "%(file)s is %(count)s bytes; the limit is %(max_bytes)s bytes. A manifest this large is almost "
            "certainly broken or hostile."
        ),
        "contains_doctype_entity_declaration_course": N_(
            "%(file)s contains a DOCTYPE or ENTITY declaration. Course manifests must not declare DTDs or "
            "entities (they can be used to read server files or exhaust memory). Remove the <!DOCTYPE ...> "
            "block and export again."
        ),
        "declares_doctype_course_manifests_must": N_(
            "%(file)s declares a DOCTYPE; course manifests must not use DTDs."
        ),
        "well_formed_xml_line_open": N_(
            "%(file)s is not well-formed XML: %(msg)s (line %(lineno)s). Open it in an XML editor, fix the "
            "error, and export the package again."
        ),
        "uses_xinclude_href_manifests_must": N_(
            "%(file)s uses XInclude (<%(local_name)s href=\"%(href)s\">). Manifests must be self-contained: "
            "XInclude is never processed and nothing is fetched. Put the included content into the manifest "
            "itself and export again."
        ),
        "package_entries_limit": N_("The package has %(count)s entries; the limit is %(max_entries)s."),
        "zip_archive_contains_files_check": N_(
            "The zip archive contains no files. Check that the course was exported fully."
        ),
        "zip_slip_control_characters": N_(
            "The package entry \"%(name)s\" contains control characters. Such entries can overwrite files on "
            "the server, so the package was refused. Re-create the zip from the course folder."
        ),
        "zip_slip_absolute_path": N_(
            "The package entry \"%(name)s\" is an absolute path. Such entries can overwrite files on the "
            "server, so the package was refused. Re-create the zip from the course folder."
        ),
        "zip_slip_drive_letter": N_(
            "The package entry \"%(name)s\" starts with a Windows drive letter. Such entries can overwrite "
            "files on the server, so the package was refused. Re-create the zip from the course folder."
        ),
        "zip_slip_backslashes": N_(
            "The package entry \"%(name)s\" uses backslashes (Windows paths are not allowed; use forward "
            "slashes). Such entries can overwrite files on the server, so the package was refused. Re-create "
            "the zip from the course folder."
        ),
        "zip_slip_parent_component": N_(
            "The package entry \"%(name)s\" contains a \"..\" component that climbs out of the course folder. "
            "Such entries can overwrite files on the server, so the package was refused. Re-create the zip "
            "from the course folder."
        ),
        "zip_slip_empty_component": N_(
            "The package entry \"%(name)s\" has an empty or \".\" path component (an unusual path that can "
            "hide duplicates). Such entries can overwrite files on the server, so the package was refused. "
            "Re-create the zip from the course folder."
        ),
        "zip_slip_path_too_long": N_(
            "The package entry \"%(name)s\" is longer than %(limit)s characters. Such entries can overwrite "
            "files on the server, so the package was refused. Re-create the zip from the course folder."
        ),
        "zip_slip_name_too_long": N_(
            "The package entry \"%(name)s\" has a file or folder name longer than %(limit)s bytes. Such "
            "entries can overwrite files on the server, so the package was refused. Re-create the zip from the "
            "course folder."
        ),
        "zip_slip_empty_name": N_(
            "The package entry \"%(name)s\" is empty. Such entries can overwrite files on the server, so the "
            "package was refused. Re-create the zip from the course folder."
        ),
        "package_entry_symbolic_link_links": N_(
            "The package entry \"%(filename)s\" is a symbolic link. Links can expose server files; replace the "
            "link with the real file and zip again."
        ),
        "package_entry_device_pipe_socket": N_(
            "The package entry \"%(filename)s\" is a device, pipe or socket, not a file."
        ),
        "package_entry_password_protected_export": N_(
            "The package entry \"%(filename)s\" is password-protected. Export the course without a password."
        ),
        "package_entry_uses_compression_method": N_(
            "The package entry \"%(filename)s\" uses compression method %(compress_type)s; re-create the zip "
            "with standard (deflate) compression."
        ),
        "package_entry_would_expand_from": N_(
            "The package entry \"%(filename)s\" would expand from %(compress_size)s to %(file_size)s bytes "
            "(more than %(max_entry_ratio)s times). This is how \"zip bombs\" work, so the package was "
            "refused."
        ),
        "package_unpacks_bytes_limit_split": N_(
            "The package unpacks to %(total)s bytes; the limit is %(max_total_bytes)s. Split the course or "
            "compress its videos."
        ),
        "package_contains_which_same_file": N_(
            "The package contains \"%(seen)s\" and \"%(name)s\", which are the same file name (ignoring case). "
            "Remove one of them and zip again."
        ),
        "package_uses_both_file_folder": N_(
            "The package uses \"%(name)s\" both as a file and as a folder (%(folders)s)."
        ),
        "package_entry_overlaps_another_entry": N_(
            "The package entry \"%(filename)s\" overlaps another entry's data. Overlapping entries are a "
            "zip-bomb technique; the package was refused."
        ),
        "package_entry_damaged_local_header": N_(
            "The package entry \"%(filename)s\" has a damaged local header; export again."
        ),
        "local_header_names_different_file": N_(
            "The local header of \"%(filename)s\" names a different file; the zip is damaged or crafted. "
            "Export the course again."
        ),
        "package_entry_does_match_checksum": N_(
            "The package entry \"%(filename)s\" does not match its checksum or size; the zip is damaged. "
            "Export the course again."
        ),
        "package_unpacks_more_than_bytes": N_(
            "The package unpacks to more than %(max_total_bytes)s bytes (measured while extracting). Split the "
            "course or compress its videos."
        ),
        "larger_than_manifest_limit_bytes": N_(
            "%(filename)s is larger than the manifest limit of %(max_bytes)s bytes."
        ),
        "package_entry_declares_bytes_but": N_(
            "The package entry \"%(filename)s\" declares %(file_size)s bytes but expands to more: its size "
            "header lies, which is a zip-bomb technique."
        ),
        "package_entry_expands_more_than": N_(
            "The package entry \"%(filename)s\" expands more than %(max_entry_ratio)s times its compressed "
            "size; refused as a zip bomb."
        ),
        "package_entry_damaged_export_again": N_(
            "The package entry \"%(filename)s\" is damaged (%(exc)s); export again."
        ),
        "package_entry_truncated_export_again": N_("The package entry \"%(filename)s\" is truncated; export again."),
        "compressed_data_ends_early_export": N_("The compressed data of \"%(filename)s\" ends early; export again."),
        "cmi_value_not_number": N_("%(key)s=%(raw)s is not a number."),
        "cmi_state_must_have_version": N_("the CMI state must have 'version' and 'values'."),
        "unknown_expression_node": N_("unknown expression node %(tag)s."),
        "prerequisites_end_early": N_("prerequisites \"%(text)s\": the expression ends too early."),
        "prerequisites_expected": N_("prerequisites \"%(text)s\": expected \"%(expected)s\" but found \"%(found)s\"."),
        "prerequisites_empty": N_("prerequisites \"%(text)s\": the expression is empty."),
        "prerequisites_unexpected": N_("prerequisites \"%(text)s\": unexpected \"%(found)s\"."),
        "prerequisites_expected_status": N_(
            "prerequisites \"%(text)s\": expected a lesson status but found \"%(found)s\"."
        ),
        "prerequisites_not_status": N_("prerequisites \"%(text)s\": \"%(found)s\" is not a lesson status."),
        "prerequisites_count_not_integer": N_(
            "prerequisites \"%(text)s\": \"%(found)s\" before \"*\" must be a whole number."
        ),
        "prerequisites_use_not_equal": N_("prerequisites \"%(text)s\": use \"<>\" for not-equal."),
        "cannot_read_prerequisites": N_("cannot read \"%(text)s\" in prerequisites \"%(text2)s\"."),
        "value_out_of_range": N_("%(name)s=%(value)s must be between %(low)s and 1."),
        "value_not_in_vocabulary": N_("%(name)s=%(value)s is not one of: %(allowed)s."),
        "section_sco_only_scos_report": N_("\"%(activity_id)s\" is a section, not a SCO; only SCOs report results."),
        "lesson_status_scorm_status": N_("lesson_status=%(lesson_status)s is not a SCORM 1.2 status."),
        "attempt_duration_must_negative": N_("attempt_duration=%(attempt_duration)s must not be negative."),
        "value_not_number": N_("%(name)s=%(value)s is not a number."),
        "attempt_duration_number": N_("attempt_duration=%(attempt_duration)s is not a number."),
        "map_value_not_number": N_("%(name)s.%(key)s=%(raw)s is not a number."),
        "navigation_request_expected_one_choice": N_(
            "\"%(value)s\" is not a navigation request; expected one of %(allowed)s (choice/jump as "
            "{target=ID}choice)."
        ),
        "does_take_target_got": N_("\"%(text)s\" does not take a target (got \"%(target)s\")."),
        "names_target_but_was_also": N_(
            "\"%(value)s\" names target \"%(embedded)s\" but \"%(target)s\" was also given."
        ),
        "sequencing_state_missing_from_unknown": N_("the sequencing state is missing or from an unknown version."),
        "sequencing_state_does_match_course": N_(
            "the sequencing state does not match this course's activities (was the package replaced under a "
            "running attempt?)."
        ),
        "sequencing_state_global_objectives_seed": N_("the sequencing state has no global objectives or seed."),
        "state_names_activity_course": N_("state \"%(key)s\" names an activity that is not in the course."),
        "state_record_activity_incomplete": N_("the state record of activity \"%(activity_id)s\" is incomplete."),
        "manifest_organization_there_nothing_play": N_(
            "the manifest has no <organization>, so there is nothing to play."
        ),
        "organization_item_share_identifier": N_(
            "the organization and an item share the identifier \"%(identifier)s\"."
        ),
        "activity_part_course": N_("activity \"%(activity_id)s\" is not part of the course \"%(title)s\"."),
    }
)
"""Sentence key -> English sentence (the gettext message id)."""

TERMS: frozenset[str] = frozenset(
    {
        N_("the course"),
        N_("an objective"),
        N_("a block"),
        N_("an AU"),
        N_("course"),
        N_("objective"),
        N_("block"),
        N_("AU"),
    }
)
"""Words a raise site passes as a param value; translated like the sentences."""


def plain_params(params: Params | None) -> dict[str, str | int]:
    """``params`` as JSON-ready values (a string or an integer each)."""
    return {k: v if isinstance(v, str | int) else str(v) for k, v in (params or {}).items()}


def english(key: str, params: Params | None = None) -> str:
    """The English sentence of ``key`` with ``params`` filled in (CLI, logs, ``message``)."""
    sentence = MESSAGES[key]
    return sentence % dict(params) if params else sentence
