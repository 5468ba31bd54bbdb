"""meetings: meetings, minutes, resolutions, officials

Revision ID: 6f3c8d2a1e43
Revises: 5e2b7c1f0d32
Create Date: 2026-11-21 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6f3c8d2a1e43'
down_revision = '5e2b7c1f0d32'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('governance_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('founded_on', sa.Date(), nullable=True),
    sa.Column('certificate_number', sa.String(length=60), nullable=True),
    sa.Column('certificate_issued_on', sa.Date(), nullable=True),
    sa.Column('certificate_renewal_on', sa.Date(), nullable=True),
    sa.Column('certificate_file', sa.String(length=60), nullable=True),
    sa.Column('certificate_type', sa.String(length=40), nullable=True),
    sa.Column('kra_pin', sa.String(length=11), nullable=True),
    sa.Column('last_return_on', sa.Date(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_governance_record'))
    )
    op.create_table('quorum_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_type', sa.Enum('general', 'agm', 'special', 'committee', 'dialogue', name='meetingtype', native_enum=False, length=20), nullable=False),
    sa.Column('kind', sa.Enum('fraction', 'fixed', name='quorumkind', native_enum=False, length=10), nullable=False),
    sa.Column('numerator', sa.Integer(), nullable=True),
    sa.Column('denominator', sa.Integer(), nullable=True),
    sa.Column('fixed_count', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("(kind = 'fraction' AND numerator >= 1 AND denominator >= 1 AND numerator <= denominator) OR (kind = 'fixed' AND fixed_count >= 1)", name=op.f('ck_quorum_rule_sense')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quorum_rule')),
    sa.UniqueConstraint('meeting_type', name=op.f('uq_quorum_rule_meeting_type'))
    )
    op.create_table('meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type', sa.Enum('general', 'agm', 'special', 'committee', 'dialogue', name='meetingtype', native_enum=False, length=20), nullable=False),
    sa.Column('title', sa.String(length=160), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('starts_at', sa.String(length=5), nullable=True),
    sa.Column('venue', sa.String(length=160), nullable=False),
    sa.Column('convener', sa.String(length=120), nullable=False),
    sa.Column('notice_on', sa.Date(), nullable=True),
    sa.Column('headcount', sa.Integer(), nullable=True),
    sa.Column('signin_file', sa.String(length=60), nullable=True),
    sa.Column('signin_type', sa.String(length=40), nullable=True),
    sa.Column('minutes_status', sa.Enum('draft', 'circulated', 'confirmed', 'published', name='minutesstatus', native_enum=False, length=20), nullable=False),
    sa.Column('minutes_language', sa.String(length=5), nullable=False),
    sa.Column('members_may_read', sa.Boolean(), nullable=False),
    sa.Column('circulated_at', sa.DateTime(), nullable=True),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('headcount IS NULL OR headcount >= 0', name=op.f('ck_meeting_headcount')),
    sa.CheckConstraint('notice_on IS NULL OR notice_on <= held_on', name=op.f('ck_meeting_notice_before')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_meeting_created_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting'))
    )
    op.create_index(op.f('ix_meeting_held_on'), 'meeting', ['held_on'], unique=False)
    op.create_index(op.f('ix_meeting_minutes_status'), 'meeting', ['minutes_status'], unique=False)
    op.create_index(op.f('ix_meeting_type'), 'meeting', ['type'], unique=False)
    op.create_table('action_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=False),
    sa.Column('owner', sa.String(length=120), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum('open', 'done', 'dropped', name='actionstatus', native_enum=False, length=10), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_action_item_meeting_id_meeting')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_item'))
    )
    op.create_index(op.f('ix_action_item_meeting_id'), 'action_item', ['meeting_id'], unique=False)
    op.create_index(op.f('ix_action_item_status'), 'action_item', ['status'], unique=False)
    op.create_table('constitution_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=60), nullable=False),
    sa.Column('adopted_on', sa.Date(), nullable=False),
    sa.Column('adopted_at_id', sa.Integer(), nullable=True),
    sa.Column('file', sa.String(length=60), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('notes', sa.String(length=300), nullable=True),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['adopted_at_id'], ['meeting.id'], name=op.f('fk_constitution_version_adopted_at_id_meeting')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user.id'], name=op.f('fk_constitution_version_uploaded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_constitution_version'))
    )
    op.create_table('election',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('office', sa.Enum('chair', 'vice_chair', 'secretary', 'vice_secretary', 'treasurer', 'organising_secretary', 'committee_member', name='office', native_enum=False, length=30), nullable=False),
    sa.Column('seats', sa.Integer(), nullable=False),
    sa.Column('term_end', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_election_meeting_id_meeting')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_election'))
    )
    op.create_index(op.f('ix_election_meeting_id'), 'election', ['meeting_id'], unique=False)
    op.create_table('meeting_addendum',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['user.id'], name=op.f('fk_meeting_addendum_added_by_id_user')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_meeting_addendum_meeting_id_meeting')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_addendum'))
    )
    op.create_index(op.f('ix_meeting_addendum_meeting_id'), 'meeting_addendum', ['meeting_id'], unique=False)
    op.create_table('meeting_attendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('present', 'apology', name='attendancestatus', native_enum=False, length=10), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_meeting_attendance_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_meeting_attendance_member_id_member')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_attendance')),
    sa.UniqueConstraint('meeting_id', 'member_id', name='uq_meeting_attendance_member')
    )
    op.create_index(op.f('ix_meeting_attendance_meeting_id'), 'meeting_attendance', ['meeting_id'], unique=False)
    op.create_index(op.f('ix_meeting_attendance_member_id'), 'meeting_attendance', ['member_id'], unique=False)
    op.create_table('meeting_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_meeting_comment_meeting_id_meeting')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_meeting_comment_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_comment'))
    )
    op.create_index(op.f('ix_meeting_comment_meeting_id'), 'meeting_comment', ['meeting_id'], unique=False)
    op.create_table('meeting_guest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=120), nullable=False),
    sa.Column('organisation', sa.String(length=120), nullable=True),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_meeting_guest_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_guest'))
    )
    op.create_index(op.f('ix_meeting_guest_meeting_id'), 'meeting_guest', ['meeting_id'], unique=False)
    op.create_table('officials_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('changed_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=True),
    sa.Column('filed_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_officials_notice_meeting_id_meeting')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_officials_notice'))
    )
    op.create_index(op.f('ix_officials_notice_changed_on'), 'officials_notice', ['changed_on'], unique=False)
    op.create_table('resolution',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('general', 'dues', 'confirm_minutes', 'election', 'constitution', name='resolutionkind', native_enum=False, length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('proposer', sa.String(length=120), nullable=False),
    sa.Column('seconder', sa.String(length=120), nullable=False),
    sa.Column('votes_for', sa.Integer(), nullable=False),
    sa.Column('votes_against', sa.Integer(), nullable=False),
    sa.Column('votes_abstain', sa.Integer(), nullable=False),
    sa.Column('majority', sa.Enum('simple', 'two_thirds', name='majorityrule', native_enum=False, length=20), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('inquorate', sa.Boolean(), nullable=False),
    sa.Column('confirms_meeting_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('votes_for >= 0 AND votes_against >= 0 AND votes_abstain >= 0', name=op.f('ck_resolution_votes')),
    sa.ForeignKeyConstraint(['confirms_meeting_id'], ['meeting.id'], name=op.f('fk_resolution_confirms_meeting_id_meeting')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_resolution_meeting_id_meeting')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_resolution_recorded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resolution')),
    sa.UniqueConstraint('confirms_meeting_id', name=op.f('uq_resolution_confirms_meeting_id')),
    sa.UniqueConstraint('meeting_id', 'number', name='uq_resolution_number')
    )
    op.create_index(op.f('ix_resolution_meeting_id'), 'resolution', ['meeting_id'], unique=False)
    op.create_table('election_candidate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('election_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('votes', sa.Integer(), nullable=False),
    sa.Column('elected', sa.Boolean(), nullable=False),
    sa.CheckConstraint('votes >= 0', name=op.f('ck_election_candidate_votes')),
    sa.ForeignKeyConstraint(['election_id'], ['election.id'], name=op.f('fk_election_candidate_election_id_election'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_election_candidate_member_id_member')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_election_candidate')),
    sa.UniqueConstraint('election_id', 'member_id', name='uq_election_candidate_member')
    )
    op.create_index(op.f('ix_election_candidate_election_id'), 'election_candidate', ['election_id'], unique=False)
    op.create_table('meeting_agenda_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('carried_action_id', sa.Integer(), nullable=True),
    sa.Column('discussion', sa.Text(), nullable=True),
    sa.Column('decisions', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['carried_action_id'], ['action_item.id'], name=op.f('fk_meeting_agenda_item_carried_action_id_action_item')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_meeting_agenda_item_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_agenda_item')),
    sa.UniqueConstraint('meeting_id', 'position', name='uq_meeting_agenda_item_position')
    )
    op.create_index(op.f('ix_meeting_agenda_item_meeting_id'), 'meeting_agenda_item', ['meeting_id'], unique=False)
    op.create_table('official',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office', sa.Enum('chair', 'vice_chair', 'secretary', 'vice_secretary', 'treasurer', 'organising_secretary', 'committee_member', name='office', native_enum=False, length=30), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('term_start', sa.Date(), nullable=False),
    sa.Column('term_end', sa.Date(), nullable=True),
    sa.Column('elected_at_id', sa.Integer(), nullable=True),
    sa.Column('resolution_id', sa.Integer(), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('email', sa.String(length=120), nullable=True),
    sa.Column('ended_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('term_end IS NULL OR term_end >= term_start', name=op.f('ck_official_term')),
    sa.ForeignKeyConstraint(['elected_at_id'], ['meeting.id'], name=op.f('fk_official_elected_at_id_meeting')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_official_member_id_member')),
    sa.ForeignKeyConstraint(['resolution_id'], ['resolution.id'], name=op.f('fk_official_resolution_id_resolution')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_official'))
    )
    op.create_index(op.f('ix_official_member_id'), 'official', ['member_id'], unique=False)
    op.create_index('ix_official_office_term', 'official', ['office', 'term_start'], unique=False)
    op.create_table('resolution_rate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resolution_id', sa.Integer(), nullable=False),
    sa.Column('dues_rate_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dues_rate_id'], ['dues_rate.id'], name=op.f('fk_resolution_rate_dues_rate_id_dues_rate')),
    sa.ForeignKeyConstraint(['resolution_id'], ['resolution.id'], name=op.f('fk_resolution_rate_resolution_id_resolution')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resolution_rate')),
    sa.UniqueConstraint('dues_rate_id', name=op.f('uq_resolution_rate_dues_rate_id'))
    )
    op.create_index(op.f('ix_resolution_rate_resolution_id'), 'resolution_rate', ['resolution_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_resolution_rate_resolution_id'), table_name='resolution_rate')
    op.drop_table('resolution_rate')
    op.drop_index('ix_official_office_term', table_name='official')
    op.drop_index(op.f('ix_official_member_id'), table_name='official')
    op.drop_table('official')
    op.drop_index(op.f('ix_meeting_agenda_item_meeting_id'), table_name='meeting_agenda_item')
    op.drop_table('meeting_agenda_item')
    op.drop_index(op.f('ix_election_candidate_election_id'), table_name='election_candidate')
    op.drop_table('election_candidate')
    op.drop_index(op.f('ix_resolution_meeting_id'), table_name='resolution')
    op.drop_table('resolution')
    op.drop_index(op.f('ix_officials_notice_changed_on'), table_name='officials_notice')
    op.drop_table('officials_notice')
    op.drop_index(op.f('ix_meeting_guest_meeting_id'), table_name='meeting_guest')
    op.drop_table('meeting_guest')
    op.drop_index(op.f('ix_meeting_comment_meeting_id'), table_name='meeting_comment')
    op.drop_table('meeting_comment')
    op.drop_index(op.f('ix_meeting_attendance_member_id'), table_name='meeting_attendance')
    op.drop_index(op.f('ix_meeting_attendance_meeting_id'), table_name='meeting_attendance')
    op.drop_table('meeting_attendance')
    op.drop_index(op.f('ix_meeting_addendum_meeting_id'), table_name='meeting_addendum')
    op.drop_table('meeting_addendum')
    op.drop_index(op.f('ix_election_meeting_id'), table_name='election')
    op.drop_table('election')
    op.drop_table('constitution_version')
    op.drop_index(op.f('ix_action_item_status'), table_name='action_item')
    op.drop_index(op.f('ix_action_item_meeting_id'), table_name='action_item')
    op.drop_table('action_item')
    op.drop_index(op.f('ix_meeting_type'), table_name='meeting')
    op.drop_index(op.f('ix_meeting_minutes_status'), table_name='meeting')
    op.drop_index(op.f('ix_meeting_held_on'), table_name='meeting')
    op.drop_table('meeting')
    op.drop_table('quorum_rule')
    op.drop_table('governance_record')
