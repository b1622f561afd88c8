//! The store below gRPC: every `WriteTx` primitive and every read, written once as generic
//! functions over a connection (`tests/store/*.rs`) and run on each database by one macro line,
//! so a divergence between the dialects shows up here, where it is made, rather than as a
//! puzzling answer over gRPC. SQLite runs on both of its drivers: sqlx (the readers) and rusqlite
//! (the writer). Postgres uses `CLIENTSTATUS_TEST_POSTGRES_URL` like the API suite; without a
//! server it is skipped, except under `CI=true`.
#[path = "store/fixtures.rs"]
mod fixtures;
#[path = "store/plans.rs"]
mod plans;
#[path = "store/reads.rs"]
mod reads;
#[path = "store/writes.rs"]
mod writes;

/// One `#[tokio::test]` per suite function, on the connection `$open` gives.
macro_rules! store_suite {
    ($backend:ident, $open:path) => {
        mod $backend {
            store_suite!(@tests $open;
                writes::a_request_record_is_found_by_caller_and_id_and_claimed_once,
                writes::a_legacy_request_record_is_seen_and_pruned_after_its_retention,
                writes::an_inserted_client_loads_with_its_columns_and_locks_in_order,
                writes::an_update_writes_only_what_changed_and_refuses_a_stale_version,
                writes::a_lead_is_found_by_each_key_and_never_a_deleted_client,
                writes::a_document_is_recorded_once_with_its_owner,
                writes::history_entries_read_back_in_their_order,
                writes::timers_are_replaced_claimed_by_due_time_and_deleted,
                writes::sequences_are_taken_in_blocks_and_events_and_alerts_read_back,
                writes::streams_are_pruned_by_whole_prefix,
                writes::catalogue_entries_are_written_versioned_and_the_cache_follows,
                writes::clients_using_an_entry_are_counted_and_listed,
                reads::list_filters_each_narrow_the_clients,
                reads::counts_group_by_the_dimensions_asked,
                reads::activities_are_counted_per_day_at_the_callers_offset,
                reads::stream_reads_filter_and_page_by_sequence,
            );
        }
    };
    (@tests $open:path; $($suite:ident::$test:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $test() {
            let Some(mut db) = $open().await else { return };
            crate::$suite::$test(&mut db.conn).await;
        }
    )*};
}

store_suite!(sqlite_sqlx, crate::fixtures::sqlite_sqlx);
// The plans are SQLite's: Postgres plans by its statistics, which an empty database lacks.
mod sqlite_plans {
    store_suite!(@tests crate::fixtures::sqlite_sqlx;
        plans::each_list_filter_is_served_by_its_index,
        plans::many_due_calls_page_like_few,
    );
}
mod postgres_plans {
    store_suite!(@tests crate::fixtures::postgres;
        plans::pages_are_planned_for_their_values,
    );
}
store_suite!(sqlite_writer, crate::fixtures::sqlite_writer);
store_suite!(postgres, crate::fixtures::postgres);
