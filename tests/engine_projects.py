"""Small projects for the engine tests: written to disk with helpers.write_files.

SMALL_PROJECT      one contract, identity, two attributes, a segment
COLLATION_PROJECT  ties between texts that sort differently by code point and linguistically
EDGE_PROJECT       edge values of every contract type, a two-column primary key, snippets
                   with division, rounding, date arithmetic and boolean aggregates
"""

from __future__ import annotations

SMALL_PROJECT = {
    "definitions/project.yaml": """
        kind: project
        name: tiny
        entity: customer
        targets: [duckdb, postgres, spark]
    """,
    "definitions/contracts.yaml": """
        kind: contract
        name: signups
        version: 1.0.0
        relation: raw.signups
        primary_key: [signup_id]
        event_time: signed_up_at
        fields:
          signup_id: {type: string, required: true}
          email: {type: string, pii: true}
          amount: {type: "decimal(8,2)"}
          signed_up_at: {type: timestamp, required: true}
    """,
    "definitions/identity.yaml": """
        kind: identity
        name: customer
        version: 1.0.0
        identifiers:
          - {type: email, normalize: email, max_per_profile: 3}
        sources:
          signups: {email: email}
    """,
    "definitions/attributes.yaml": """
        kind: attribute
        name: spend
        version: 1.0.0
        type: "decimal(12,2)"
        source: signups
        aggregate: sum(amount)
        default: 0
        ---
        kind: attribute
        name: last_signup
        version: 1.0.0
        type: timestamp
        source: signups
        aggregate: max(signed_up_at)
    """,
    "definitions/segments.yaml": """
        kind: segment
        name: spenders
        version: 1.0.0
        where: spend > 1
    """,
    "data/raw.signups.csv": (
        "signup_id,email,amount,signed_up_at\n"
        "s1,a@x.com,1.005,2026-11-01 10:00:00\n"
        "s2, A@X.com,2.50,2026-11-02T10:00:00.25\n"
        "s3,,,2026-11-03 10:00:00\n"
        "s4,b@x.com,-1,2026-11-04 10:00:00\n"
        "s5,c@x.com,oops,2026-11-05 10:00:00\n"
    ),
}

COLLATION_PROJECT = {
    "definitions/project.yaml": """
        kind: project
        name: order
        entity: customer
        targets: [duckdb, postgres, spark]
    """,
    "definitions/contracts.yaml": """
        kind: contract
        name: people
        version: 1.0.0
        relation: raw.people
        primary_key: [person_id]
        fields:
          person_id: {type: string, required: true}
          member: {type: string}
          handle: {type: string}
          fruit: {type: string}
          email: {type: string}
    """,
    "definitions/identity.yaml": """
        kind: identity
        name: customer
        version: 1.0.0
        identifiers:
          - {type: member, normalize: upper_trim, max_per_profile: 1}
          - {type: handle, normalize: trim, max_per_profile: 5}
          - {type: email, normalize: email, max_per_profile: 5}
        sources:
          people: {member: member, handle: handle, email: email}
    """,
    "definitions/attributes.yaml": """
        kind: attribute
        name: favourite
        version: 1.0.0
        type: string
        pick: {field: fruit, from: [people], strategy: most_frequent}
        ---
        kind: attribute
        name: smallest_fruit
        version: 1.0.0
        type: string
        pick: {field: fruit, from: [people], strategy: source_priority}
    """,
    # p1 and p2 are one person (same email) with two handles, 'alpha' and 'Zeta', and two
    # fruits, once each; p3 and p4 share a member id and hold the handles 'ärger' and '_under'
    "data/raw.people.csv": (
        "person_id,member,handle,fruit,email\n"
        "p1,,alpha,apple,e@x.com\n"
        "p2,,Zeta,Banana,E@x.com\n"
        "p3,m1,ärger,apple,\n"
        "p4,M1,_under,Banana,\n"
    ),
}


EDGE_PROJECT = {
    "definitions/project.yaml": """
        kind: project
        name: edges
        entity: customer
        targets: [duckdb, postgres, spark]
    """,
    "definitions/contracts.yaml": """
        kind: contract
        name: things
        version: 1.0.0
        relation: raw.things
        primary_key: [thing_id]
        event_time: at
        fields:
          thing_id: {type: string, required: true}
          email: {type: string, pii: true}
          n: {type: integer, min: -5, max: 1000000}
          big: {type: bigint}
          score: {type: double}
          price: {type: "decimal(8,3)", min: 0}
          flag: {type: boolean}
          day: {type: date}
          at: {type: timestamp, required: true}
          label: {type: string, pattern: "^[a-z]+[0-9]?$", accepted_values: [abc, abc1, zz, "ÄÖ"]}
        ---
        kind: contract
        name: lines
        version: 1.0.0
        relation: raw.lines
        primary_key: [order_id, line]
        event_time: booked_at
        fields:
          order_id: {type: string, required: true}
          line: {type: integer, required: true}
          email: {type: string, pii: true}
          member: {type: string}
          amount: {type: "decimal(6,2)"}
          booked_at: {type: timestamp, required: true}
    """,
    "definitions/identity.yaml": """
        kind: identity
        name: customer
        version: 1.0.0
        identifiers:
          - {type: member, normalize: lower_trim, max_per_profile: 1}
          - {type: email, normalize: email, max_per_profile: 2}
        sources:
          things: {email: email}
          lines: {email: email, member: member}
    """,
    "definitions/attributes.yaml": """
        kind: attribute
        name: total_price
        version: 1.0.0
        type: "decimal(12,3)"
        source: things
        aggregate: sum(price)
        default: 0
        ---
        kind: attribute
        name: avg_score
        version: 1.0.0
        type: double
        source: things
        aggregate: avg(score)
        ---
        kind: attribute
        name: big_sum
        version: 1.0.0
        type: bigint
        source: things
        aggregate: sum(big)
        ---
        kind: attribute
        name: last_at
        version: 1.0.0
        type: timestamp
        source: things
        aggregate: max(at)
        ---
        kind: attribute
        name: first_day
        version: 1.0.0
        type: date
        source: things
        aggregate: min(day)
        ---
        kind: attribute
        name: any_flag
        version: 1.0.0
        type: boolean
        source: things
        aggregate: bool_or(flag)
        ---
        kind: attribute
        name: n_quarter
        version: 1.0.0
        type: double
        source: things
        aggregate: sum(n) / 4
        ---
        kind: attribute
        name: rounded
        version: 1.0.0
        type: "decimal(12,1)"
        expression: round(total_price, 1)
        ---
        kind: attribute
        name: line_amount
        version: 1.0.0
        type: "decimal(8,2)"
        pick: {field: amount, from: [lines], strategy: most_frequent}
        ---
        kind: attribute
        name: latest_label
        version: 1.0.0
        type: string
        pick: {field: label, from: [things], strategy: most_recent}
        ---
        kind: attribute
        name: first_member
        version: 1.0.0
        type: string
        pick: {field: member, from: [lines], strategy: first_seen}
        ---
        kind: attribute
        name: day_gap
        version: 1.0.0
        type: integer
        source: things
        aggregate: date_diff('day', max(day), current_date)
        ---
        kind: attribute
        name: recent_things
        version: 1.0.0
        type: integer
        source: things
        aggregate: count(*)
        where: at >= current_date - interval 2 day and at < current_timestamp
        default: 0
    """,
    "definitions/segments.yaml": """
        kind: segment
        name: priced
        version: 1.0.0
        where: total_price > 0 or any_flag
    """,
    # every value below is an edge: rounding half away from zero, range limits, leap days,
    # fractions of a second, signs and leading zeros, a quoted empty string, unicode
    "data/raw.things.csv": (
        "thing_id,email,n,big,score,price,flag,day,at,label,ignored\n"
        "t1,a@x.com,1,9223372036854775807,1.5,1.0005,true,2024-02-29,2026-11-19 10:00:00,abc,x\n"
        "t2,A@X.com ,-5,-9223372036854775808,2.5,2.675,TRUE,2026-01-01,2026-11-19T10:00:00.123456,abc1,\n"
        "t3,b@x.com,2147483648,9223372036854775808,1e300,99999.9995,False,2026-02-29,2026-11-19 10:00:00.5,zz,\n"
        't4,b@x.com,+7,007,.5,-0.0004,yes,2025-12-31,2026-11-20 00:00:00,"ÄÖ",\n'
        "t5,c@x.com,0012,1,5.,0,f,2026-13-01,2026-11-19 25:00:00,ABC,\n"
        "t6,c@x.com, 3,2,-1.25e-3,12345.6785,tRuE,0001-01-01,0001-01-01 00:00:00,,\n"
        't7,,4,3,1E5,00012.340,,,1999-12-31 23:59:59.999999,"",\n'
        "t8,d@x.com,5,4,-0,+1.5,false,2026-11-20,2026-11-20 00:00:00,abc,\n"
        "t9,d@x.com,1000000,-1,-2.5e-10,99999.999,FALSE,2026-11-18,2026-11-18 23:59:59.000001,zz,\n"
    ),
    "data/raw.lines.csv": (
        "booked_at,line,order_id,email,member,amount\n"
        "2026-11-18 10:00:00,1,o1,a@x.com,M1,1.005\n"
        "2026-11-18 11:00:00,2,o1,a@x.com, m1 ,2.5\n"
        "2026-11-18 12:00:00,1,o2,b@x.com,M2,-2.675\n"
        "2026-11-18 12:00:00,01,o2,d@x.com,M2,9999.995\n"
        "2026-11-18 13:00:00,1,o3,c@x.com,M3,0.125\n"
        "2026-11-18 13:00:00,2,o3,c@x.com,m4,0.125\n"
    ),
}
