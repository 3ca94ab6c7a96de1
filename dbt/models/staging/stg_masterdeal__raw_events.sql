{{ config(materialized='view') }}

-- Distinct domain envelopes: FINAL collapses re-delivered copies of an event_id.
with source as (
    select * from {{ source('masterdeal', 'raw_events') }} final
),

renamed as (
    select
        event_id,
        toString(event_type)    as event_type,
        toString(source_system) as source_system,
        master_deal_id,
        event_ts                as event_at,
        payload                 as payload_json,
        toString(kafka_topic)   as kafka_topic,
        kafka_partition,
        kafka_offset,
        ingested_at
    from source
)

select * from renamed
