"""patrols: shifts, rosters, attendance, stipends, incidents

Revision ID: 5e2b7c1f0d32
Revises: 4d1a6b0e9c21
Create Date: 2026-11-21 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e2b7c1f0d32'
down_revision = '4d1a6b0e9c21'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('patrol_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stipend_cents', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('stipend_cents >= 0', name=op.f('ck_patrol_settings_stipend_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_settings'))
    )
    op.create_table('patrol_zone',
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('min_per_shift', sa.Integer(), nullable=False),
    sa.Column('max_per_shift', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint('max_per_shift IS NULL OR max_per_shift >= min_per_shift', name=op.f('ck_patrol_zone_max_above_min')),
    sa.CheckConstraint('min_per_shift >= 2', name=op.f('ck_patrol_zone_min_two')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_patrol_zone_zone_id_zone'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('zone_id', name=op.f('pk_patrol_zone'))
    )
    op.create_table('shift_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start_minute', sa.Integer(), nullable=False),
    sa.Column('end_minute', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('start_minute != end_minute', name=op.f('ck_shift_template_not_empty')),
    sa.CheckConstraint('start_minute BETWEEN 0 AND 1439 AND end_minute BETWEEN 0 AND 1439', name=op.f('ck_shift_template_minute_range')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_shift_template_weekday_range')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_shift_template_zone_id_zone'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shift_template'))
    )
    op.create_index('ix_shift_template_zone_weekday', 'shift_template', ['zone_id', 'weekday'], unique=False)
    op.create_table('patroller',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('weekly_limit', sa.Integer(), nullable=True),
    sa.Column('back_to_back', sa.Boolean(), nullable=False),
    sa.Column('ical_token', sa.String(length=64), nullable=False),
    sa.Column('enrolled_on', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('weekly_limit IS NULL OR weekly_limit BETWEEN 1 AND 14', name=op.f('ck_patroller_weekly_limit_range')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_patroller_member_id_member'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patroller')),
    sa.UniqueConstraint('ical_token', name=op.f('uq_patroller_ical_token')),
    sa.UniqueConstraint('member_id', name=op.f('uq_patroller_member_id'))
    )
    op.create_table('incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('category', sa.Enum('house_breakin', 'business_breakin', 'mugging', 'snatch_theft', 'assault', 'gbv', 'fire', 'other', name='incidentcategory', native_enum=False, length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('action_notes', sa.Text(), nullable=True),
    sa.Column('weapon_involved', sa.Boolean(), nullable=False),
    sa.Column('sexual_offence', sa.Boolean(), nullable=False),
    sa.Column('major', sa.Boolean(), nullable=False),
    sa.Column('police_station', sa.String(length=120), nullable=True),
    sa.Column('ob_number', sa.String(length=60), nullable=True),
    sa.Column('police_officer', sa.String(length=120), nullable=True),
    sa.Column('reporter_name', sa.String(length=120), nullable=True),
    sa.Column('reporter_phone', sa.String(length=20), nullable=True),
    sa.Column('person_description', sa.Text(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_incident_recorded_by_id_user')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_incident_zone_id_zone'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident'))
    )
    op.create_index(op.f('ix_incident_category'), 'incident', ['category'], unique=False)
    op.create_index(op.f('ix_incident_major'), 'incident', ['major'], unique=False)
    op.create_index(op.f('ix_incident_occurred_at'), 'incident', ['occurred_at'], unique=False)
    op.create_index(op.f('ix_incident_zone_id'), 'incident', ['zone_id'], unique=False)
    op.create_table('patrol_assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('night', sa.Date(), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('patroller_id', sa.Integer(), nullable=False),
    sa.Column('manual', sa.Boolean(), nullable=False),
    sa.Column('attendance', sa.Enum('present', 'absent', 'excused', 'replaced', name='attendance', native_enum=False, length=10), nullable=True),
    sa.Column('replaced_by_id', sa.Integer(), nullable=True),
    sa.Column('attendance_note', sa.String(length=200), nullable=True),
    sa.Column('attendance_by_id', sa.Integer(), nullable=True),
    sa.Column('attendance_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['attendance_by_id'], ['user.id'], name=op.f('fk_patrol_assignment_attendance_by_id_user')),
    sa.ForeignKeyConstraint(['patroller_id'], ['patroller.id'], name=op.f('fk_patrol_assignment_patroller_id_patroller'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['replaced_by_id'], ['patroller.id'], name=op.f('fk_patrol_assignment_replaced_by_id_patroller')),
    sa.ForeignKeyConstraint(['template_id'], ['shift_template.id'], name=op.f('fk_patrol_assignment_template_id_shift_template'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_patrol_assignment_zone_id_zone'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_assignment')),
    sa.UniqueConstraint('night', 'template_id', 'patroller_id', name='uq_assignment')
    )
    op.create_index('ix_assignment_patroller_night', 'patrol_assignment', ['patroller_id', 'night'], unique=False)
    op.create_index(op.f('ix_patrol_assignment_night'), 'patrol_assignment', ['night'], unique=False)
    op.create_table('patrol_availability',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patroller_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_patrol_availability_weekday_range')),
    sa.ForeignKeyConstraint(['patroller_id'], ['patroller.id'], name=op.f('fk_patrol_availability_patroller_id_patroller'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_patrol_availability_zone_id_zone'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_availability')),
    sa.UniqueConstraint('patroller_id', 'weekday', 'zone_id', name='uq_patrol_availability')
    )
    op.create_table('patrol_away',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patroller_id', sa.Integer(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.CheckConstraint('end_date >= start_date', name=op.f('ck_patrol_away_dates_order')),
    sa.ForeignKeyConstraint(['patroller_id'], ['patroller.id'], name=op.f('fk_patrol_away_patroller_id_patroller'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_away'))
    )
    op.create_index(op.f('ix_patrol_away_patroller_id'), 'patrol_away', ['patroller_id'], unique=False)
    op.create_table('roster',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('generated_at', sa.DateTime(), nullable=False),
    sa.Column('generated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['generated_by_id'], ['user.id'], name=op.f('fk_roster_generated_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster')),
    sa.UniqueConstraint('month', name=op.f('uq_roster_month'))
    )
    op.create_table('incident_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['changed_by_id'], ['user.id'], name=op.f('fk_incident_revision_changed_by_id_user')),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_incident_revision_incident_id_incident'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_revision'))
    )
    op.create_index(op.f('ix_incident_revision_incident_id'), 'incident_revision', ['incident_id'], unique=False)
    op.create_table('patrol_swap',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('offered_by_id', sa.Integer(), nullable=False),
    sa.Column('taken_by_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('offered', 'pending', 'approved', 'rejected', 'cancelled', name='swapstatus', native_enum=False, length=10), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('problems', sa.String(length=500), nullable=True),
    sa.Column('automatic', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('taken_at', sa.DateTime(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['assignment_id'], ['patrol_assignment.id'], name=op.f('fk_patrol_swap_assignment_id_patrol_assignment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'], name=op.f('fk_patrol_swap_decided_by_id_user')),
    sa.ForeignKeyConstraint(['offered_by_id'], ['patroller.id'], name=op.f('fk_patrol_swap_offered_by_id_patroller')),
    sa.ForeignKeyConstraint(['taken_by_id'], ['patroller.id'], name=op.f('fk_patrol_swap_taken_by_id_patroller')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_swap'))
    )
    op.create_index(op.f('ix_patrol_swap_assignment_id'), 'patrol_swap', ['assignment_id'], unique=False)
    op.create_index(op.f('ix_patrol_swap_status'), 'patrol_swap', ['status'], unique=False)
    op.create_table('stipend_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('rate_cents', sa.BigInteger(), nullable=False),
    sa.Column('total_cents', sa.BigInteger(), nullable=False),
    sa.Column('expense_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('rate_cents > 0', name=op.f('ck_stipend_run_rate_positive')),
    sa.CheckConstraint('total_cents > 0', name=op.f('ck_stipend_run_total_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_stipend_run_created_by_id_user')),
    sa.ForeignKeyConstraint(['expense_id'], ['expense.id'], name=op.f('fk_stipend_run_expense_id_expense')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stipend_run')),
    sa.UniqueConstraint('expense_id', name=op.f('uq_stipend_run_expense_id'))
    )
    op.create_index(op.f('ix_stipend_run_month'), 'stipend_run', ['month'], unique=False)
    op.create_table('stipend_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('patroller_id', sa.Integer(), nullable=False),
    sa.Column('shifts', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount_cents > 0', name=op.f('ck_stipend_line_amount_positive')),
    sa.CheckConstraint('shifts > 0', name=op.f('ck_stipend_line_shifts_positive')),
    sa.ForeignKeyConstraint(['patroller_id'], ['patroller.id'], name=op.f('fk_stipend_line_patroller_id_patroller')),
    sa.ForeignKeyConstraint(['run_id'], ['stipend_run.id'], name=op.f('fk_stipend_line_run_id_stipend_run'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stipend_line')),
    sa.UniqueConstraint('run_id', 'patroller_id', name='uq_stipend_line')
    )


def downgrade():
    op.drop_table('stipend_line')
    op.drop_index(op.f('ix_stipend_run_month'), table_name='stipend_run')
    op.drop_table('stipend_run')
    op.drop_index(op.f('ix_patrol_swap_status'), table_name='patrol_swap')
    op.drop_index(op.f('ix_patrol_swap_assignment_id'), table_name='patrol_swap')
    op.drop_table('patrol_swap')
    op.drop_index(op.f('ix_incident_revision_incident_id'), table_name='incident_revision')
    op.drop_table('incident_revision')
    op.drop_table('roster')
    op.drop_index(op.f('ix_patrol_away_patroller_id'), table_name='patrol_away')
    op.drop_table('patrol_away')
    op.drop_table('patrol_availability')
    op.drop_index(op.f('ix_patrol_assignment_night'), table_name='patrol_assignment')
    op.drop_index('ix_assignment_patroller_night', table_name='patrol_assignment')
    op.drop_table('patrol_assignment')
    op.drop_index(op.f('ix_incident_zone_id'), table_name='incident')
    op.drop_index(op.f('ix_incident_occurred_at'), table_name='incident')
    op.drop_index(op.f('ix_incident_major'), table_name='incident')
    op.drop_index(op.f('ix_incident_category'), table_name='incident')
    op.drop_table('incident')
    op.drop_table('patroller')
    op.drop_index('ix_shift_template_zone_weekday', table_name='shift_template')
    op.drop_table('shift_template')
    op.drop_table('patrol_zone')
    op.drop_table('patrol_settings')
